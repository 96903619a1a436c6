package awsquery

//go:generate go run ./shapegen -service iam -package iamapi -out ../iamapi/zz_generated.go
//go:generate go run ./shapegen -service sts -package stsapi -out ../stsapi/zz_generated.go
