package stsapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/policy"
)

// GetCallerIdentity returns who signed the request. It needs no permission:
// AWS answers it even when an explicit deny covers sts:GetCallerIdentity.
func (s *Service) GetCallerIdentity(ctx context.Context, _ *GetCallerIdentityRequest) (*GetCallerIdentityResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return &GetCallerIdentityResponse{UserId: c.UserID, Account: c.Account, Arn: c.ARN}, nil
}

// GetAccessKeyInfo returns the account of any access key ID: from the view
// for long-term keys iamd holds, otherwise from the account AWS-style key
// IDs (and every temporary key iamd issues) carry.
func (s *Service) GetAccessKeyInfo(ctx context.Context, in *GetAccessKeyInfoRequest) (*GetAccessKeyInfoResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, "sts:GetAccessKeyInfo", "*"); err != nil {
		return nil, err
	}
	if k, ok := s.view.AccessKey(in.AccessKeyId); ok {
		return &GetAccessKeyInfoResponse{Account: k.V.Account}, nil
	}
	account, ok := accountOfKeyID(strings.ToUpper(in.AccessKeyId))
	if !ok {
		return nil, invalidParameterValue("The access key ID %s is not valid.", in.AccessKeyId)
	}
	return &GetAccessKeyInfoResponse{Account: account}, nil
}

// Authorization messages. Services built on iamd answer a denial with an
// encoded message (EncodeAuthorizationMessage); the account's principals
// with sts:DecodeAuthorizationMessage read it in AWS's JSON form. The
// encoding is the keyring's authenticated encryption of the JSON, bound to
// its purpose, in URL-safe base64: opaque and tamper-proof.

const authorizationMessagePurpose = "iamd/sts-authorization-message/v1"

// AuthorizationMessage is the decoded form of an encoded authorization
// message, with the field names AWS uses.
type AuthorizationMessage struct {
	Allowed           bool           `json:"allowed"`
	ExplicitDeny      bool           `json:"explicitDeny"`
	MatchedStatements itemsOf[any]   `json:"matchedStatements"`
	Failures          itemsOf[any]   `json:"failures"`
	Context           messageContext `json:"context"`
	// account owns the message: only its principals may decode it.
	Account string `json:"account,omitempty"`
}

type itemsOf[T any] struct {
	Items []T `json:"items"`
}

type messageContext struct {
	Principal  messagePrincipal          `json:"principal"`
	Action     string                    `json:"action"`
	Resource   string                    `json:"resource"`
	Conditions itemsOf[messageCondition] `json:"conditions"`
}

type messagePrincipal struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	ARN  string `json:"arn"`
}

type messageCondition struct {
	Key    string                `json:"key"`
	Values itemsOf[messageValue] `json:"values"`
}

type messageValue struct {
	Value string `json:"value"`
}

type matchedStatement struct {
	StatementID string `json:"statementId,omitempty"`
	Effect      string `json:"effect"`
	Policy      string `json:"policy"`
	Index       int    `json:"index"`
}

// NewAuthorizationMessage describes a decision for its encoded message.
func NewAuthorizationMessage(c *authz.Caller, ex *policy.Explanation, kvs []authz.KV) *AuthorizationMessage {
	m := &AuthorizationMessage{
		Allowed:      ex.Decision == policy.Allowed,
		ExplicitDeny: ex.Decision == policy.ExplicitDeny,
		Account:      c.Account,
		Context: messageContext{
			Principal: messagePrincipal{ID: c.UserID, Name: c.Name, ARN: c.ARN},
			Action:    ex.Action, Resource: ex.Resource,
		},
	}
	m.MatchedStatements.Items = []any{}
	m.Failures.Items = []any{}
	for _, lr := range ex.Layers {
		for _, st := range lr.Matches {
			m.MatchedStatements.Items = append(m.MatchedStatements.Items, matchedStatement{
				StatementID: st.Sid, Effect: st.Effect.String(), Policy: st.Policy, Index: st.Index,
			})
		}
	}
	if r := ex.Reason(); r != "" {
		m.Failures.Items = append(m.Failures.Items, r)
	}
	m.Context.Conditions.Items = []messageCondition{}
	for _, kv := range kvs {
		mc := messageCondition{Key: kv.Key}
		for _, v := range kv.Values {
			mc.Values.Items = append(mc.Values.Items, messageValue{Value: v})
		}
		m.Context.Conditions.Items = append(m.Context.Conditions.Items, mc)
	}
	return m
}

// EncodeAuthorizationMessage seals an authorization message.
func (s *Service) EncodeAuthorizationMessage(m *AuthorizationMessage) (string, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode authorization message: %w", err)
	}
	sealed, err := s.keyring.Seal(js, []byte(authorizationMessagePurpose))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func invalidAuthorizationMessage() error {
	return InvalidAuthorizationMessageError("The message provided is not a valid encoded authorization message.")
}

// DecodeAuthorizationMessage decodes a message describing why a request was
// denied. The caller needs sts:DecodeAuthorizationMessage and must belong
// to the account the message was issued in.
func (s *Service) DecodeAuthorizationMessage(ctx context.Context, in *DecodeAuthorizationMessageRequest) (*DecodeAuthorizationMessageResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, "sts:DecodeAuthorizationMessage", "*"); err != nil {
		return nil, err
	}
	sealed, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(in.EncodedMessage, "="))
	if err != nil {
		return nil, invalidAuthorizationMessage()
	}
	js, err := s.keyring.Open(sealed, []byte(authorizationMessagePurpose))
	if err != nil {
		return nil, invalidAuthorizationMessage()
	}
	var m AuthorizationMessage
	if err := json.Unmarshal(js, &m); err != nil || m.Account != c.Account {
		return nil, invalidAuthorizationMessage()
	}
	m.Account = ""
	out, err := json.Marshal(&m)
	if err != nil {
		return nil, err
	}
	return &DecodeAuthorizationMessageResponse{DecodedMessage: string(out)}, nil
}
