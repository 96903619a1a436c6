package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
)

// Dashboard.

type dashboard struct {
	Summary        map[string]int32
	SummaryErr     *awsquery.Error
	RootMFA        bool
	RootKeys       bool
	UsersErr       *awsquery.Error
	NoMFA          []userRow
	OldKeys        []keyRow
	Checked        int
	Truncated      bool
	PasswordPolicy bool
}

type userRow struct {
	Name     string
	Console  bool
	MFA      bool
	Keys     int
	Created  time.Time
	LastUsed time.Time
}

type keyRow struct {
	User    string
	ID      string
	Status  string
	Created time.Time
	AgeDays int
}

// dashboardUsers is how many users the dashboard inspects (three API calls
// each); the credential report covers every user.
const dashboardUsers = 200

func (h *Handler) dashboard(q *req) {
	d := &dashboard{}
	sum, err := call(h, q.ctx, "GetAccountSummary", nil, h.iam.GetAccountSummary)
	if err != nil {
		d.SummaryErr = h.apiError(err)
	} else {
		d.Summary = sum.SummaryMap
		d.RootMFA = sum.SummaryMap["AccountMFAEnabled"] > 0
		d.RootKeys = sum.SummaryMap["AccountAccessKeysPresent"] > 0
	}
	if _, err := call(h, q.ctx, "GetAccountPasswordPolicy", nil, h.iam.GetAccountPasswordPolicy); err == nil {
		d.PasswordPolicy = true
	}
	users, err := call(h, q.ctx, "ListUsers", form("MaxItems", strconv.Itoa(dashboardUsers)), h.iam.ListUsers)
	if err != nil {
		d.UsersErr = h.apiError(err)
	} else {
		d.Truncated = users.IsTruncated
		now := h.now()
		for _, u := range users.Users {
			d.Checked++
			row := userRow{Name: u.UserName, Created: u.CreateDate, LastUsed: u.PasswordLastUsed}
			if mfa, err := call(h, q.ctx, "ListMFADevices", form("UserName", u.UserName), h.iam.ListMFADevices); err == nil {
				row.MFA = len(mfa.MFADevices) > 0
			}
			if _, err := call(h, q.ctx, "GetLoginProfile", form("UserName", u.UserName), h.iam.GetLoginProfile); err == nil {
				row.Console = true
			}
			if !row.MFA {
				d.NoMFA = append(d.NoMFA, row)
			}
			if keys, err := call(h, q.ctx, "ListAccessKeys", form("UserName", u.UserName), h.iam.ListAccessKeys); err == nil {
				for _, k := range keys.AccessKeyMetadata {
					age := int(now.Sub(k.CreateDate) / (24 * time.Hour))
					if age >= 90 && k.Status == "Active" {
						d.OldKeys = append(d.OldKeys, keyRow{User: u.UserName, ID: k.AccessKeyId, Status: k.Status, Created: k.CreateDate, AgeDays: age})
					}
				}
			}
		}
	}
	h.render(q.w, http.StatusOK, "dashboard", q.view("Security dashboard", "home", d))
}
