package iamapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// Credential reports. IAM builds at most one report per account every four
// hours; GenerateCredentialReport answers STARTED when it begins a new one
// and COMPLETE while the last one is fresh, and GetCredentialReport serves
// it for four hours. iamd builds the report synchronously from the view
// (it takes milliseconds for thousands of users), so it is complete as soon
// as GenerateCredentialReport returns. The latest report of each account is
// one record in the store (its CSV gzipped), read and written there
// directly, so that a report generated on one replica is served by every
// other at once; the view skips the record's kind.

// credentialReportTTL is how long a report is served and how long a new
// GenerateCredentialReport reuses it.
const credentialReportTTL = 4 * time.Hour

// credentialReportKind is the kind of the store record holding an
// account's latest report, under the key credentialReportKey.
const (
	credentialReportKind = "credential-report"
	credentialReportKey  = "latest"
)

// credentialReportHeader lists AWS's columns in AWS's order.
const credentialReportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"

// storedCredentialReport is the record of an account's latest report.
type storedCredentialReport struct {
	Generated time.Time `json:"t"`
	CSV       []byte    `json:"csv"` // gzip
}

// latestCredentialReport reads the account's latest report and its record
// version (0 when there is none).
func (s *Service) latestCredentialReport(ctx context.Context, account string) (*storedCredentialReport, int64, error) {
	rec, ok, err := s.writer.Store.Get(ctx, credentialReportKind, account, credentialReportKey)
	if err != nil {
		return nil, 0, fmt.Errorf("read credential report: %w", err)
	}
	if !ok {
		return nil, 0, nil
	}
	var rep storedCredentialReport
	if err := json.Unmarshal(rec.Data, &rep); err != nil {
		// A damaged record is no report: the next Generate replaces it.
		return nil, rec.Version, nil //nolint:nilerr // see above
	}
	return &rep, rec.Version, nil
}

// GenerateCredentialReport starts a report unless a fresh one exists.
func (s *Service) GenerateCredentialReport(ctx context.Context, _ *GenerateCredentialReportRequest) (*GenerateCredentialReportResponse, error) {
	c, err := s.authorize(ctx, "iam:GenerateCredentialReport", "*")
	if err != nil {
		return nil, err
	}
	rep, version, err := s.latestCredentialReport(ctx, c.Account)
	if err != nil {
		return nil, err
	}
	if rep != nil && s.now().Sub(rep.Generated) < credentialReportTTL {
		return &GenerateCredentialReportResponse{State: ReportStateTypeComplete}, nil
	}
	content, err := s.credentialReport(c.Account)
	if err != nil {
		return nil, err
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	if _, err := zw.Write(content); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(&storedCredentialReport{Generated: s.timestamp(), CSV: zipped.Bytes()})
	if err != nil {
		return nil, err
	}
	expect := version
	if expect == 0 {
		expect = store.Absent
	}
	_, err = s.writer.Store.Commit(ctx, []store.Op{{Type: store.Put, Kind: credentialReportKind, Account: c.Account, Key: credentialReportKey, Expect: expect, Data: data}})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return nil, fmt.Errorf("store credential report: %w", err)
	}
	// On a conflict another replica stored a report generated at the same
	// moment: it is as fresh as this one.
	return &GenerateCredentialReportResponse{
		State:       ReportStateTypeStarted,
		Description: "No report exists. Starting a new report generation task",
	}, nil
}

// GetCredentialReport returns the account's latest report.
func (s *Service) GetCredentialReport(ctx context.Context, _ *GetCredentialReportRequest) (*GetCredentialReportResponse, error) {
	c, err := s.authorize(ctx, "iam:GetCredentialReport", "*")
	if err != nil {
		return nil, err
	}
	rep, _, err := s.latestCredentialReport(ctx, c.Account)
	if err != nil {
		return nil, err
	}
	if rep == nil {
		return nil, CredentialReportNotPresentError("The request was rejected because the credential report does not exist. To generate a credential report, use GenerateCredentialReport.")
	}
	if s.now().Sub(rep.Generated) >= credentialReportTTL {
		return nil, CredentialReportExpiredError("The request was rejected because the most recent credential report has expired. To generate a new credential report, use GenerateCredentialReport. For more information about credential report expiration, see Getting credential reports in the IAM User Guide.")
	}
	zr, err := gzip.NewReader(bytes.NewReader(rep.CSV))
	if err != nil {
		return nil, fmt.Errorf("read credential report: %w", err)
	}
	content, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read credential report: %w", err)
	}
	return &GetCredentialReportResponse{Content: content, ReportFormat: ReportFormatTypeTextCsv, GeneratedTime: rep.Generated}, nil
}

// reportTime formats a time as the credential report does.
func reportTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

// credentialRow is what the report needs of one principal, read under the
// view's lock; keys and their use are read afterwards.
type credentialRow struct {
	user, arn, userID string
	created           time.Time
	root              bool
	login             *iam.LoginProfile
	passwordLastUsed  time.Time
	mfa               bool
	certs             []*iam.SigningCertificate // oldest first
}

// credentialReport builds the CSV: the root user first, then every user
// in name order.
func (s *Service) credentialReport(account string) ([]byte, error) {
	var (
		rows   []credentialRow
		maxAge int
	)
	acct, ok := s.view.Account(account)
	if !ok {
		return nil, noSuchEntity("The account %s does not exist.", account)
	}
	if p := acct.V.PasswordPolicy; p != nil {
		maxAge = p.MaxPasswordAge
	}
	err := s.read(account, func(a *iam.AccountView) {
		rows = append(rows, credentialRow{
			user: "<root_account>", arn: s.partition.RootARN(account), created: acct.V.Created, root: true,
			passwordLastUsed: acct.V.RootPasswordLastUsed, mfa: a.HasMFADeviceFor("root"),
			certs: signingCertsOf(a, ""),
		})
		users, _ := a.Users("", a.UserCount()+1, nil)
		for _, u := range users {
			rows = append(rows, credentialRow{
				user: u.V.Name, arn: s.partition.ARN(account, "user", u.V.Path, u.V.Name), userID: u.V.ID,
				created: u.V.Created, login: u.V.Login, passwordLastUsed: u.V.PasswordLastUsed,
				mfa: a.HasMFADeviceFor(u.V.ID), certs: signingCertsOf(a, u.V.ID),
			})
		}
	})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(credentialReportHeader)
	for _, r := range rows {
		b.WriteByte('\n')
		s.appendCredentialRow(&b, account, r, maxAge)
	}
	return b.Bytes(), nil
}

func (s *Service) appendCredentialRow(b *bytes.Buffer, account string, r credentialRow, maxAge int) {
	field := func(v string) { b.WriteByte(','); b.WriteString(v) }
	b.WriteString(r.user)
	field(r.arn)
	field(reportTime(r.created))
	switch {
	case r.root:
		field("not_supported")
		if r.passwordLastUsed.IsZero() {
			field("no_information")
		} else {
			field(reportTime(r.passwordLastUsed))
		}
		field("not_supported")
		field("not_supported")
	case r.login == nil:
		field("false")
		if r.passwordLastUsed.IsZero() {
			field("N/A")
		} else {
			// A password that was used and later deleted.
			field(reportTime(r.passwordLastUsed))
		}
		field("N/A")
		field("N/A")
	default:
		field("true")
		if r.passwordLastUsed.IsZero() {
			field("no_information")
		} else {
			field(reportTime(r.passwordLastUsed))
		}
		changed := r.login.PasswordChanged
		if changed.IsZero() {
			changed = r.login.Created
		}
		field(reportTime(changed))
		if maxAge > 0 {
			field(reportTime(changed.Add(time.Duration(maxAge) * 24 * time.Hour)))
		} else {
			field("N/A")
		}
	}
	field(strconv.FormatBool(r.mfa))
	keys := s.view.AccessKeys(account, r.userID)
	for i := range 2 {
		if i >= len(keys) {
			field("false")
			field("N/A")
			field("N/A")
			field("N/A")
			field("N/A")
			continue
		}
		k := keys[i].V
		field(strconv.FormatBool(k.Status == "Active"))
		field(reportTime(k.Created))
		var used iam.KeyUsage
		var ok bool
		if s.usage != nil {
			used, ok = s.usage.LastUsed(k.ID)
		}
		if !ok || used.LastUsed.IsZero() {
			field("N/A")
			field("N/A")
			field("N/A")
			continue
		}
		field(reportTime(used.LastUsed))
		field(orNA(used.Region))
		field(orNA(used.Service))
	}
	for i := range 2 {
		if i >= len(r.certs) {
			field("false")
			field("N/A")
			continue
		}
		field(strconv.FormatBool(r.certs[i].Status == "Active"))
		field(reportTime(r.certs[i].Uploaded))
	}
}

// signingCertsOf returns a user's signing certificates (userID "" for the
// root user), oldest first, as the report's cert_1 and cert_2 columns show
// them.
func signingCertsOf(a *iam.AccountView, userID string) []*iam.SigningCertificate {
	es := a.SigningCertificates(userID)
	out := make([]*iam.SigningCertificate, len(es))
	for i, e := range es {
		out[i] = e.V
	}
	return out
}

func orNA(s string) string {
	if s == "" {
		return "N/A"
	}
	return s
}
