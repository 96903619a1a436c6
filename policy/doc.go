// Package policy is iamd's AWS IAM policy engine: it parses and validates
// policy documents the way IAM does, compiles a principal's policies once,
// and evaluates requests against them with AWS's documented logic, fast
// and without allocating, explaining any decision on demand. It does no
// I/O: the server, the simulator and the command line all use it.
//
// It is not a store of policies nor a resolver of principals: the caller
// says which documents apply to a principal and who the caller is.
//
// # Parsing and validation
//
// Parse checks a document as IAM does for its kind and returns a
// *ValidationError whose Message is IAM's MalformedPolicyDocument text:
//
//	doc, err := policy.Parse(raw, policy.Identity)
//	var ve *policy.ValidationError
//	if errors.As(err, &ve) {
//		// answer MalformedPolicyDocument with ve.Message
//	}
//
// Managed policies (CreatePolicy, CreatePolicyVersion) must use Version
// 2012-10-17: use ParseWithOptions with RequireVersion2012. Size limits
// depend on where a document is stored; CheckSize(raw, limit) returns a
// *SizeError above the limit (ManagedPolicyMaxSize, RoleInlineMaxSize, ...).
// The parsed Document exposes its Statements for listing and inspection.
//
// # Evaluation
//
// Compile a principal's policies once per change of its policies:
//
//	c, err := policy.Compile(policy.PolicySet{
//		Identity: []policy.NamedDocument{{Name: "arn:aws:iam::123456789012:policy/Dev", Doc: dev}},
//		Boundary: &policy.NamedDocument{Name: "arn:aws:iam::123456789012:policy/Boundary", Doc: b},
//	})
//
// then evaluate each request. Requests and Contexts may come from a pool;
// the well-known global keys have typed fields and the rest go in
// Context.Values:
//
//	ctx.Reset()
//	ctx.SourceIP = addr
//	ctx.MultiFactorAuthPresent = policy.True
//	ctx.Username = "bob"
//	req := policy.Request{
//		Action:    "iam:GetUser",
//		Resource:  "arn:aws:iam::123456789012:user/bob",
//		Principal: policy.Principal{Type: policy.PrincipalUser, ARN: userARN, Account: "123456789012"},
//		Context:   ctx,
//	}
//	if c.Decide(&req) != policy.Allowed {
//		ex := c.Explain(&req) // only on the slow path
//		msg := ex.Message()   // "User: ... is not authorized to perform: ... because no identity-based policy allows ..."
//	}
//
// Decide does not allocate, nor does it make a Request or Context on the
// caller's stack escape, and it costs only the statements that can match
// the action: statements are indexed by service, action and resource token
// at compile time.
//
// Compile compiles every document it is given. A server governing many
// principals compiles each distinct document once with CompileDocument
// and composes each principal from the shared compiled documents with
// Compose, so that memory grows with the number of distinct documents,
// not with principals × documents, and a change of one managed policy
// recompiles that document once:
//
//	dev, err := policy.CompileDocument(devDoc) // once, shared
//	c, err := policy.Compose(policy.CompiledSet{
//		Identity: []policy.NamedCompiled{{Name: "arn:aws:iam::123456789012:policy/Dev", Doc: dev}},
//	})
//
// A resource-based (or trust) policy is compiled separately with
// CompileResource and passed in Request.ResourcePolicy, with the owning
// account in Request.ResourceAccount.
//
// # Decision logic
//
// An explicit Deny in any policy wins. SCP levels must each allow. The
// root user is not subject to identity policies: in its own account it may
// do whatever SCPs and explicit denies leave. For IAM principals, identity
// policies must allow, and so must the permissions boundary and the
// session policies when present, except that in the caller's own account a
// resource-based policy naming the user ARN or the role session ARN (or
// "*") grants on its own, and one naming the role ARN grants without
// identity policies but within the boundary and session policies. Across
// accounts both the caller's identity policies and the resource-based
// policy must allow. For the role-assumption actions (DecidedByTrustPolicy)
// the role's trust policy, passed as the resource policy, must allow even in
// the role's own account, and a missing one allows no one.
//
// Two fixed rules come before the policies: sts:GetCallerIdentity is
// allowed to every authenticated caller (AlwaysAllowed), and GetSessionToken
// and GetFederationToken credentials (Principal.Credential) cannot call what
// AWS forbids them (CredentialForbids). Explain names the rule that decided.
package policy
