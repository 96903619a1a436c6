// A shared scenario through the AWS SDK for JavaScript v3, run by
// e2e/jsclient_test.go against a live iamd: users, groups, policies, roles,
// AssumeRole, MFA devices and access keys. It exits non-zero on the first
// unexpected answer, printing what went wrong.
import {
  IAMClient, CreateUserCommand, GetUserCommand, CreateGroupCommand, AddUserToGroupCommand,
  GetGroupCommand, CreatePolicyCommand, AttachGroupPolicyCommand, ListAttachedGroupPoliciesCommand,
  CreateRoleCommand, PutRolePolicyCommand, CreateAccessKeyCommand, ListAccessKeysCommand,
  CreateVirtualMFADeviceCommand, ListVirtualMFADevicesCommand, DeleteAccessKeyCommand, ListUsersCommand,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import { STSClient, AssumeRoleCommand, GetCallerIdentityCommand } from "@aws-sdk/client-sts";

const endpoint = process.env.IAMD_URL;
const account = process.env.IAMD_ACCOUNT;
const rootCreds = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY };
const clients = (credentials) => ({
  iam: new IAMClient({ endpoint, region: "us-east-1", credentials }),
  sts: new STSClient({ endpoint, region: "us-east-1", credentials }),
});

function expect(cond, what) {
  if (!cond) {
    throw new Error("unexpected: " + what);
  }
}

async function expectError(promise, code) {
  try {
    await promise;
  } catch (e) {
    expect(e.name === code || e.Code === code, `error ${e.name}, want ${code}`);
    return;
  }
  throw new Error(`no error, want ${code}`);
}

const root = clients(rootCreds);
await root.iam.send(new CreateUserCommand({ UserName: "js-user", Tags: [{ Key: "sdk", Value: "js" }] }));
const user = await root.iam.send(new GetUserCommand({ UserName: "js-user" }));
expect(user.User.Arn === `arn:aws:iam::${account}:user/js-user`, "GetUser Arn " + user.User.Arn);
await expectError(root.iam.send(new CreateUserCommand({ UserName: "js-user" })), "EntityAlreadyExistsException");

await root.iam.send(new CreateGroupCommand({ GroupName: "js-group" }));
await root.iam.send(new AddUserToGroupCommand({ GroupName: "js-group", UserName: "js-user" }));
const group = await root.iam.send(new GetGroupCommand({ GroupName: "js-group" }));
expect(group.Users.length === 1 && group.Users[0].UserName === "js-user", "group members");

const pol = await root.iam.send(new CreatePolicyCommand({
  PolicyName: "js-assume",
  PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" }] }),
}));
await root.iam.send(new AttachGroupPolicyCommand({ GroupName: "js-group", PolicyArn: pol.Policy.Arn }));
const attached = await root.iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: "js-group" }));
expect(attached.AttachedPolicies.length === 1 && attached.AttachedPolicies[0].PolicyArn === pol.Policy.Arn, "attached policies");

const role = await root.iam.send(new CreateRoleCommand({
  RoleName: "js-role",
  AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: user.User.Arn }, Action: "sts:AssumeRole" }] }),
}));
await root.iam.send(new PutRolePolicyCommand({
  RoleName: "js-role", PolicyName: "list",
  PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "iam:ListUsers", Resource: "*" }] }),
}));

const key = await root.iam.send(new CreateAccessKeyCommand({ UserName: "js-user" }));
expect(key.AccessKey.SecretAccessKey && key.AccessKey.SecretAccessKey.length === 40, "secret shown once");
const keys = await root.iam.send(new ListAccessKeysCommand({ UserName: "js-user" }));
expect(keys.AccessKeyMetadata.length === 1 && !("SecretAccessKey" in keys.AccessKeyMetadata[0]), "listed key without its secret");

const asUser = clients({ accessKeyId: key.AccessKey.AccessKeyId, secretAccessKey: key.AccessKey.SecretAccessKey });
const who = await asUser.sts.send(new GetCallerIdentityCommand({}));
expect(who.Arn === user.User.Arn, "GetCallerIdentity " + who.Arn);
await expectError(asUser.iam.send(new ListUsersCommand({})), "AccessDenied");
await asUser.iam.send(new PutUserPolicyCommand({ UserName: "js-user", PolicyName: "x", PolicyDocument: "{}" })).then(
  () => { throw new Error("a user without permissions changed its policies"); },
  (e) => expect(e.name === "AccessDenied" || e.name === "AccessDeniedException", "PutUserPolicy as the user: " + e.name),
);

const assumed = await asUser.sts.send(new AssumeRoleCommand({ RoleArn: role.Role.Arn, RoleSessionName: "js-session" }));
expect(assumed.AssumedRoleUser.Arn === `arn:aws:sts::${account}:assumed-role/js-role/js-session`, "assumed-role ARN");
const asRole = clients({
  accessKeyId: assumed.Credentials.AccessKeyId, secretAccessKey: assumed.Credentials.SecretAccessKey,
  sessionToken: assumed.Credentials.SessionToken,
});
const listed = await asRole.iam.send(new ListUsersCommand({}));
expect(listed.Users.some((u) => u.UserName === "js-user"), "ListUsers as the role");

const mfa = await root.iam.send(new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: "js-phone" }));
expect(mfa.VirtualMFADevice.Base32StringSeed && mfa.VirtualMFADevice.Base32StringSeed.length > 0, "MFA seed");
const devices = await root.iam.send(new ListVirtualMFADevicesCommand({}));
expect(devices.VirtualMFADevices.some((d) => d.SerialNumber === mfa.VirtualMFADevice.SerialNumber), "listed MFA device");

await root.iam.send(new DeleteAccessKeyCommand({ UserName: "js-user", AccessKeyId: key.AccessKey.AccessKeyId }));
console.log("scenario passed");
