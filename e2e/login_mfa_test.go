package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	iamstate "github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/totp"
)

const goodPassword = "Corr3ct-Horse!Battery"

func TestLoginProfileLifecycle(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("lee")})
	must(t, err)

	_, err = root.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("lee")})
	wantCode(t, err, "NoSuchEntity")
	wantAWSMessage(t, err, "Login Profile for User lee cannot be found.")

	// Without an account policy AWS's default rules apply.
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("lee"), Password: aws.String("short")})
	wantCode(t, err, "PasswordPolicyViolation")

	out, err := root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{
		UserName: aws.String("lee"), Password: aws.String(goodPassword), PasswordResetRequired: true,
	})
	must(t, err)
	if p := out.LoginProfile; aws.ToString(p.UserName) != "lee" || !p.PasswordResetRequired || p.CreateDate == nil {
		t.Errorf("CreateLoginProfile = %+v", p)
	}
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("lee"), Password: aws.String(goodPassword)})
	wantCode(t, err, "EntityAlreadyExists")
	wantAWSMessage(t, err, "Login Profile for user lee already exists.")

	got, err := root.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("lee")})
	must(t, err)
	if !got.LoginProfile.PasswordResetRequired {
		t.Errorf("GetLoginProfile = %+v", got.LoginProfile)
	}
	_, err = root.UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: aws.String("lee"), PasswordResetRequired: aws.Bool(false)})
	must(t, err)
	got, err = root.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("lee")})
	must(t, err)
	if got.LoginProfile.PasswordResetRequired {
		t.Errorf("reset still required after UpdateLoginProfile")
	}
	_, err = root.UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: aws.String("lee"), Password: aws.String("abc")})
	wantCode(t, err, "PasswordPolicyViolation")

	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("lee")})
	wantCode(t, err, "DeleteConflict")
	wantAWSMessage(t, err, "Cannot delete entity, must delete login profile first.")

	_, err = root.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("lee")})
	must(t, err)
	_, err = root.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("lee")})
	wantCode(t, err, "NoSuchEntity")
	_, err = root.UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: aws.String("lee"), Password: aws.String(goodPassword)})
	wantCode(t, err, "NoSuchEntity")
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("lee")})
	must(t, err)
}

func TestPasswordPolicyAndChangePassword(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()

	_, err := root.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	wantCode(t, err, "NoSuchEntity")
	wantAWSMessage(t, err, "The Password Policy with domain name 123456789012 cannot be found.")
	_, err = root.DeleteAccountPasswordPolicy(ctx, &iam.DeleteAccountPasswordPolicyInput{})
	wantCode(t, err, "NoSuchEntity")

	_, err = root.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength: aws.Int32(12), RequireSymbols: true, RequireNumbers: true,
		AllowUsersToChangePassword: true, MaxPasswordAge: aws.Int32(90), PasswordReusePrevention: aws.Int32(2),
	})
	must(t, err)
	pol, err := root.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	must(t, err)
	p := pol.PasswordPolicy
	if aws.ToInt32(p.MinimumPasswordLength) != 12 || !p.RequireSymbols || !p.RequireNumbers || p.RequireUppercaseCharacters ||
		!p.AllowUsersToChangePassword || !p.ExpirePasswords || aws.ToInt32(p.MaxPasswordAge) != 90 || aws.ToInt32(p.PasswordReusePrevention) != 2 {
		t.Errorf("GetAccountPasswordPolicy = %+v", p)
	}
	_, err = root.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(5)})
	wantCode(t, err, "ValidationError")

	// A user with no IAM permissions, relying on AllowUsersToChangePassword.
	creds := newUserWithKey(t, e, "pat")
	pat := e.iam(creds)
	tests := []struct {
		name, pw, code string
	}{
		{"too short", "Sh0rt!", "PasswordPolicyViolation"},
		{"no symbol", "abcdefghijk1", "PasswordPolicyViolation"},
		{"no number", "abcdefghijk!", "PasswordPolicyViolation"},
		{"same as user name", "pat", "PasswordPolicyViolation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("pat"), Password: aws.String(tc.pw)})
			wantCode(t, err, tc.code)
		})
	}
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("pat"), Password: aws.String("first-passw0rd!"), PasswordResetRequired: true})
	must(t, err)

	_, err = pat.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String("wrong-passw0rd!"), NewPassword: aws.String("second-passw0rd!")})
	wantCode(t, err, "AccessDenied")
	_, err = pat.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String("first-passw0rd!"), NewPassword: aws.String("first-passw0rd!")})
	wantCode(t, err, "PasswordPolicyViolation")
	_, err = pat.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String("first-passw0rd!"), NewPassword: aws.String("weak")})
	wantCode(t, err, "PasswordPolicyViolation")
	_, err = pat.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String("first-passw0rd!"), NewPassword: aws.String("second-passw0rd!")})
	must(t, err)
	// The reset flag clears; the previous password may not come back.
	got, err := root.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("pat")})
	must(t, err)
	if got.LoginProfile.PasswordResetRequired {
		t.Error("PasswordResetRequired still set after ChangePassword")
	}
	_, err = pat.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String("second-passw0rd!"), NewPassword: aws.String("first-passw0rd!")})
	wantCode(t, err, "PasswordPolicyViolation")
	_, err = root.UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: aws.String("pat"), Password: aws.String("first-passw0rd!")})
	wantCode(t, err, "PasswordPolicyViolation")

	// The root user has no IAM password to change.
	_, err = root.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String("x"), NewPassword: aws.String("y")})
	wantCode(t, err, "InvalidUserType")

	// Without AllowUsersToChangePassword the user needs iam:ChangePassword.
	_, err = root.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(8)})
	must(t, err)
	_, err = pat.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String("second-passw0rd!"), NewPassword: aws.String("third-passw0rd!")})
	wantCode(t, err, "AccessDenied")

	_, err = root.DeleteAccountPasswordPolicy(ctx, &iam.DeleteAccountPasswordPolicyInput{})
	must(t, err)
	_, err = root.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	wantCode(t, err, "NoSuchEntity")
}

func TestPasswordPolicyCLI(t *testing.T) {
	e := start(t)
	_, err := e.cli(e.root, "iam", "update-account-password-policy", "--minimum-password-length", "10", "--require-uppercase-characters", "--allow-users-to-change-password")
	must(t, err)
	out, err := e.cli(e.root, "iam", "get-account-password-policy")
	must(t, err)
	var got struct{ PasswordPolicy map[string]any }
	must(t, json.Unmarshal([]byte(out), &got))
	want := map[string]any{
		"MinimumPasswordLength": 10.0, "RequireUppercaseCharacters": true, "AllowUsersToChangePassword": true,
		"RequireSymbols": false, "RequireNumbers": false, "RequireLowercaseCharacters": false, "ExpirePasswords": false,
	}
	for k, v := range want {
		if got.PasswordPolicy[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, got.PasswordPolicy[k], v, out)
		}
	}
	_, err = e.cli(e.root, "iam", "create-user", "--user-name", "cli-login")
	must(t, err)
	_, err = e.cli(e.root, "iam", "create-login-profile", "--user-name", "cli-login", "--password", "alllowercase1")
	if err == nil || !strings.Contains(err.Error(), "PasswordPolicyViolation") {
		t.Errorf("weak password: err = %v", err)
	}
	out, err = e.cli(e.root, "iam", "create-login-profile", "--user-name", "cli-login", "--password", "Uppercase-ok1", "--password-reset-required")
	must(t, err)
	if !strings.Contains(out, `"PasswordResetRequired": true`) {
		t.Errorf("create-login-profile = %s", out)
	}
	_, err = e.cli(e.root, "iam", "delete-account-password-policy")
	must(t, err)
}

// codes returns two consecutive TOTP codes ending at step.
func codes(seed []byte, step uint64) (string, string) {
	return totp.HOTP(seed, step-1, totp.Digits), totp.HOTP(seed, step, totp.Digits)
}

func TestVirtualMFADevice(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("mia")})
	must(t, err)

	created, err := root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{
		VirtualMFADeviceName: aws.String("mia-phone"), Path: aws.String("/team/"),
		Tags: []types.Tag{{Key: aws.String("kind"), Value: aws.String("phone")}},
	})
	must(t, err)
	dev := created.VirtualMFADevice
	serial := aws.ToString(dev.SerialNumber)
	if serial != "arn:aws:iam::123456789012:mfa/team/mia-phone" {
		t.Errorf("SerialNumber = %s", serial)
	}
	if len(dev.Base32StringSeed) != 64 {
		t.Errorf("Base32StringSeed = %q", dev.Base32StringSeed)
	}
	if !bytes.HasPrefix(dev.QRCodePNG, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("QRCodePNG is not a PNG")
	}
	seed, err := totp.DecodeSeed(string(dev.Base32StringSeed))
	must(t, err)

	_, err = root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("mia-phone"), Path: aws.String("/team/")})
	wantCode(t, err, "EntityAlreadyExists")
	wantAWSMessage(t, err, "MFADevice entity at the same path and name already exists.")

	listStatus := func(status types.AssignmentStatusType) []types.VirtualMFADevice {
		t.Helper()
		out, err := root.ListVirtualMFADevices(ctx, &iam.ListVirtualMFADevicesInput{AssignmentStatus: status})
		must(t, err)
		return out.VirtualMFADevices
	}
	if got := listStatus(types.AssignmentStatusTypeUnassigned); len(got) != 1 || aws.ToString(got[0].SerialNumber) != serial || got[0].User != nil {
		t.Errorf("unassigned = %+v", got)
	}
	if got := listStatus(types.AssignmentStatusTypeAssigned); len(got) != 0 {
		t.Errorf("assigned = %+v", got)
	}

	step := totp.Counter(time.Now())
	c1, c2 := codes(seed, step)
	bad := string('0'+(c2[0]-'0'+1)%10) + c2[1:]
	_, err = root.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("mia"), SerialNumber: aws.String(serial), AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(bad)})
	wantCode(t, err, "InvalidAuthenticationCode")
	wantAWSMessage(t, err, "Authentication code for device is not valid.")
	_, err = root.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("nobody"), SerialNumber: aws.String(serial), AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(c2)})
	wantCode(t, err, "NoSuchEntity")
	_, err = root.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("mia"), SerialNumber: aws.String(serial), AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(c2)})
	must(t, err)
	// The same codes cannot be used again, not even to resynchronise.
	_, err = root.ResyncMFADevice(ctx, &iam.ResyncMFADeviceInput{UserName: aws.String("mia"), SerialNumber: aws.String(serial), AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(c2)})
	wantCode(t, err, "InvalidAuthenticationCode")
	r1, r2 := codes(seed, step+2)
	_, err = root.ResyncMFADevice(ctx, &iam.ResyncMFADeviceInput{UserName: aws.String("mia"), SerialNumber: aws.String(serial), AuthenticationCode1: aws.String(r1), AuthenticationCode2: aws.String(r2)})
	must(t, err)

	mfas, err := root.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("mia")})
	must(t, err)
	if len(mfas.MFADevices) != 1 || aws.ToString(mfas.MFADevices[0].SerialNumber) != serial || aws.ToString(mfas.MFADevices[0].UserName) != "mia" || mfas.MFADevices[0].EnableDate == nil {
		t.Errorf("ListMFADevices = %+v", mfas.MFADevices)
	}
	if got := listStatus(types.AssignmentStatusTypeAssigned); len(got) != 1 || got[0].User == nil || aws.ToString(got[0].User.UserName) != "mia" || got[0].EnableDate == nil {
		t.Errorf("assigned = %+v", got)
	}
	if got := listStatus(""); len(got) != 1 {
		t.Errorf("any = %+v", got)
	}
	gm, err := root.GetMFADevice(ctx, &iam.GetMFADeviceInput{UserName: aws.String("mia"), SerialNumber: aws.String(serial)})
	must(t, err)
	if aws.ToString(gm.UserName) != "mia" || aws.ToString(gm.SerialNumber) != serial {
		t.Errorf("GetMFADevice = %+v", gm)
	}

	// Tags.
	_, err = root.TagMFADevice(ctx, &iam.TagMFADeviceInput{SerialNumber: aws.String(serial), Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("mia")}}})
	must(t, err)
	_, err = root.UntagMFADevice(ctx, &iam.UntagMFADeviceInput{SerialNumber: aws.String(serial), TagKeys: []string{"KIND"}})
	must(t, err)
	tags, err := root.ListMFADeviceTags(ctx, &iam.ListMFADeviceTagsInput{SerialNumber: aws.String(serial)})
	must(t, err)
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "owner" {
		t.Errorf("tags = %+v", tags.Tags)
	}

	// An enabled device blocks deleting itself and its user.
	_, err = root.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
	wantCode(t, err, "DeleteConflict")
	wantAWSMessage(t, err, "MFA VirtualDevice in use. Must deactivate first.")
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("mia")})
	wantCode(t, err, "DeleteConflict")
	wantAWSMessage(t, err, "Cannot delete entity, must delete MFA device first.")

	_, err = root.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("mia"), SerialNumber: aws.String(serial)})
	must(t, err)
	_, err = root.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("mia"), SerialNumber: aws.String(serial)})
	wantCode(t, err, "NoSuchEntity")
	wantAWSMessage(t, err, "MFA Device invalid for user.")
	mfas, err = root.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("mia")})
	must(t, err)
	if len(mfas.MFADevices) != 0 {
		t.Errorf("after deactivation: %+v", mfas.MFADevices)
	}
	_, err = root.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
	must(t, err)
	_, err = root.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
	wantCode(t, err, "NoSuchEntity")
	wantAWSMessage(t, err, "VirtualMFADevice with serial number "+serial+" does not exist.")
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("mia")})
	must(t, err)
}

func TestMFASelfService(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	creds := newUserWithKey(t, e, "ola", "iam:EnableMFADevice", "iam:ListMFADevices", "iam:DeactivateMFADevice")
	ola := e.iam(creds)
	// Creating a device is authorized on the device's ARN, which the user
	// policy does not cover.
	_, err := ola.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("ola")})
	wantCode(t, err, "AccessDenied")
	created, err := root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("ola")})
	must(t, err)
	serial := created.VirtualMFADevice.SerialNumber
	seed, err := totp.DecodeSeed(string(created.VirtualMFADevice.Base32StringSeed))
	must(t, err)
	c1, c2 := codes(seed, totp.Counter(time.Now()))
	_, err = ola.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("ola"), SerialNumber: serial, AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(c2)})
	must(t, err)
	mine, err := ola.ListMFADevices(ctx, &iam.ListMFADevicesInput{})
	must(t, err)
	if len(mine.MFADevices) != 1 || aws.ToString(mine.MFADevices[0].SerialNumber) != aws.ToString(serial) {
		t.Errorf("ListMFADevices() = %+v", mine.MFADevices)
	}
	// A device in use cannot be enabled for someone else.
	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("other")})
	must(t, err)
	n1, n2 := codes(seed, totp.Counter(time.Now())+2)
	_, err = root.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("other"), SerialNumber: serial, AuthenticationCode1: aws.String(n1), AuthenticationCode2: aws.String(n2)})
	wantCode(t, err, "EntityAlreadyExists")
	wantAWSMessage(t, err, "MFA Device is already in use.")
	_, err = ola.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{SerialNumber: serial})
	must(t, err)
	// Deactivated, the device can be enabled again, but only with fresh codes.
	_, err = root.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("other"), SerialNumber: serial, AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(c2)})
	wantCode(t, err, "InvalidAuthenticationCode")
	_, err = root.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("other"), SerialNumber: serial, AuthenticationCode1: aws.String(n1), AuthenticationCode2: aws.String(n2)})
	must(t, err)
}

func TestVirtualMFADeviceCLI(t *testing.T) {
	e := start(t)
	_, err := e.cli(e.root, "iam", "create-user", "--user-name", "cli-mfa")
	must(t, err)
	seedFile := filepath.Join(t.TempDir(), "seed.txt")
	out, err := e.cli(e.root, "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", "cli-mfa",
		"--outfile", seedFile, "--bootstrap-method", "Base32StringSeed")
	must(t, err)
	var created struct{ VirtualMFADevice struct{ SerialNumber string } }
	must(t, json.Unmarshal([]byte(out), &created))
	serial := created.VirtualMFADevice.SerialNumber
	if serial != "arn:aws:iam::123456789012:mfa/cli-mfa" {
		t.Fatalf("create-virtual-mfa-device = %s", out)
	}
	text, err := os.ReadFile(seedFile)
	must(t, err)
	seed, err := totp.DecodeSeed(string(text))
	must(t, err)
	c1, c2 := codes(seed, totp.Counter(time.Now()))
	_, err = e.cli(e.root, "iam", "enable-mfa-device", "--user-name", "cli-mfa", "--serial-number", serial,
		"--authentication-code1", c1, "--authentication-code2", c2)
	must(t, err)
	out, err = e.cli(e.root, "iam", "list-mfa-devices", "--user-name", "cli-mfa")
	must(t, err)
	if !strings.Contains(out, serial) {
		t.Errorf("list-mfa-devices = %s", out)
	}
	out, err = e.cli(e.root, "iam", "list-virtual-mfa-devices", "--assignment-status", "Assigned")
	must(t, err)
	if !strings.Contains(out, `"UserName": "cli-mfa"`) {
		t.Errorf("list-virtual-mfa-devices = %s", out)
	}
	_, err = e.cli(e.root, "iam", "delete-virtual-mfa-device", "--serial-number", serial)
	if err == nil || !strings.Contains(err.Error(), "DeleteConflict") {
		t.Errorf("delete enabled device: err = %v", err)
	}
	_, err = e.cli(e.root, "iam", "deactivate-mfa-device", "--user-name", "cli-mfa", "--serial-number", serial)
	must(t, err)
	_, err = e.cli(e.root, "iam", "delete-virtual-mfa-device", "--serial-number", serial)
	must(t, err)
}

// secondAccount creates another account on the server and returns its root
// credentials.
func secondAccount(t *testing.T, e *env, id string) aws.Credentials {
	t.Helper()
	st := e.srv.State()
	res, err := st.Writer.CreateAccount(context.Background(), st.Keyring, iamstate.NewAccount{ID: id}, time.Now())
	must(t, err)
	return aws.Credentials{AccessKeyID: res.RootAccessKeyID, SecretAccessKey: res.RootSecretAccessKey}
}

func TestAccountAlias(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	other := e.iam(secondAccount(t, e, "210987654321"))

	list, err := root.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	must(t, err)
	if len(list.AccountAliases) != 0 || list.IsTruncated {
		t.Fatalf("aliases = %v", list.AccountAliases)
	}
	_, err = root.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("acme-prod")})
	must(t, err)
	// Aliases are unique across accounts.
	_, err = other.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("acme-prod")})
	wantCode(t, err, "EntityAlreadyExists")
	wantAWSMessage(t, err, "The account alias acme-prod already exists.")
	// A second alias replaces the first, which becomes free.
	_, err = root.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("acme-main")})
	must(t, err)
	list, err = root.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	must(t, err)
	if strings.Join(list.AccountAliases, ",") != "acme-main" {
		t.Errorf("aliases = %v", list.AccountAliases)
	}
	_, err = other.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("acme-prod")})
	must(t, err)
	if id, ok := e.srv.State().View.AliasAccount("acme-prod"); !ok || id != "210987654321" {
		t.Errorf("acme-prod belongs to %q", id)
	}

	tests := []struct {
		name, alias, code string
	}{
		{"upper case", "Acme", "ValidationError"},
		{"double hyphen", "acme--x", "ValidationError"},
		{"leading hyphen", "-acme", "ValidationError"},
		{"too short", "ab", "ValidationError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := root.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String(tc.alias)})
			wantCode(t, err, tc.code)
		})
	}

	_, err = root.DeleteAccountAlias(ctx, &iam.DeleteAccountAliasInput{AccountAlias: aws.String("acme-prod")})
	wantCode(t, err, "NoSuchEntity")
	_, err = root.DeleteAccountAlias(ctx, &iam.DeleteAccountAliasInput{AccountAlias: aws.String("acme-main")})
	must(t, err)
	list, err = root.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	must(t, err)
	if len(list.AccountAliases) != 0 {
		t.Errorf("aliases after delete = %v", list.AccountAliases)
	}
	// A user needs permission.
	u := e.iam(newUserWithKey(t, e, "nopriv"))
	_, err = u.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("sneaky")})
	wantCode(t, err, "AccessDenied")
}

func TestAccountAliasCLI(t *testing.T) {
	e := start(t)
	_, err := e.cli(e.root, "iam", "create-account-alias", "--account-alias", "cli-alias")
	must(t, err)
	out, err := e.cli(e.root, "iam", "list-account-aliases")
	must(t, err)
	var got struct{ AccountAliases []string }
	must(t, json.Unmarshal([]byte(out), &got))
	if len(got.AccountAliases) != 1 || got.AccountAliases[0] != "cli-alias" {
		t.Errorf("list-account-aliases = %s", out)
	}
	_, err = e.cli(e.root, "iam", "delete-account-alias", "--account-alias", "cli-alias")
	must(t, err)
}

func TestListVirtualMFADevicesPagination(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	for _, n := range []string{"d1", "d2", "d3"} {
		_, err := root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(n)})
		must(t, err)
	}
	var serials []string
	p := iam.NewListVirtualMFADevicesPaginator(root, &iam.ListVirtualMFADevicesInput{MaxItems: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		must(t, err)
		pages++
		for _, d := range page.VirtualMFADevices {
			serials = append(serials, strings.TrimPrefix(aws.ToString(d.SerialNumber), "arn:aws:iam::123456789012:mfa/"))
			if d.Base32StringSeed != nil || d.QRCodePNG != nil {
				t.Errorf("listing reveals the seed of %s", aws.ToString(d.SerialNumber))
			}
		}
	}
	if pages != 2 || strings.Join(serials, ",") != "d1,d2,d3" {
		t.Errorf("pages=%d serials=%v", pages, serials)
	}
	// The root user has no devices enabled.
	mine, err := root.ListMFADevices(ctx, &iam.ListMFADevicesInput{})
	must(t, err)
	if len(mine.MFADevices) != 0 {
		t.Errorf("root devices = %+v", mine.MFADevices)
	}
}

// TestVirtualMFADeviceSamePathAndName checks that a virtual MFA device is
// identified by its path and name, as its serial number (ARN) is: devices
// named alike at two paths are two devices, and each is used and deleted by
// its own serial number.
func TestVirtualMFADeviceSamePathAndName(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	serials := map[string]string{}
	for _, path := range []string{"/", "/a/", "/b/c/"} {
		out, err := root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("phone"), Path: aws.String(path)})
		must(t, err)
		serials[path] = aws.ToString(out.VirtualMFADevice.SerialNumber)
	}
	if want := "arn:aws:iam::123456789012:mfa/b/c/phone"; serials["/b/c/"] != want {
		t.Errorf("SerialNumber at /b/c/ = %s, want %s", serials["/b/c/"], want)
	}
	_, err := root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("PHONE"), Path: aws.String("/a/")})
	wantCode(t, err, "EntityAlreadyExists")

	listed := func() []string {
		t.Helper()
		out, err := root.ListVirtualMFADevices(ctx, &iam.ListVirtualMFADevicesInput{})
		must(t, err)
		var got []string
		for _, d := range out.VirtualMFADevices {
			got = append(got, aws.ToString(d.SerialNumber))
		}
		return got
	}
	if got := listed(); len(got) != 3 {
		t.Fatalf("ListVirtualMFADevices = %v, want 3 devices", got)
	}
	_, err = root.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serials["/a/"])})
	must(t, err)
	_, err = root.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serials["/a/"])})
	wantCode(t, err, "NoSuchEntity")
	got := listed()
	for _, s := range []string{serials["/"], serials["/b/c/"]} {
		if !slices.Contains(got, s) {
			t.Errorf("after deleting %s, ListVirtualMFADevices = %v: %s is gone", serials["/a/"], got, s)
		}
	}
	if slices.Contains(got, serials["/a/"]) {
		t.Errorf("ListVirtualMFADevices = %v still lists the deleted %s", got, serials["/a/"])
	}
}
