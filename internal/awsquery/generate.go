package awsquery

//go:generate go run ./shapegen -service iam -package iamapi -out ../iamapi/zz_generated.go
//go:generate go run ./shapegen -service sts -package stsapi -out ../stsapi/zz_generated.go

// Subsets for this package's tests, so they do not depend on iamapi/stsapi.
//go:generate go run ./shapegen -service iam -package iamapi -out internal/testapi/iamapi/zz_generated.go -ops ChangePassword,CreateOpenIDConnectProvider,CreateUser,DeleteUser,GetAccountSummary,GetRole,GetUser,ListUsers,SimulateCustomPolicy,UntagUser,UpdateAccessKey,UpdateAccountPasswordPolicy
//go:generate go run ./shapegen -service sts -package stsapi -out internal/testapi/stsapi/zz_generated.go -ops AssumeRole,GetCallerIdentity
