package console

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/password"
	"github.com/iamd/iamd/internal/totp"
)

// The "My security credentials" page: the signed-in identity's password,
// MFA devices, security keys and access keys.

const mfaTypeWebAuthn = "webauthn"

type securityData struct {
	Root       bool
	Name       string
	Keys       []iamapi.AccessKeyMetadata
	KeysErr    *awsquery.Error
	MFA        []iamapi.MFADevice
	MFAErr     *awsquery.Error
	Enrol      *enrolment
	SecKeys    []securityKey
	NewKey     *iamapi.AccessKey
	NewKeyCSV  []byte
	NewKeyFile string
	DeviceName string
}

type securityKey struct {
	Name    string
	Serial  string
	Created time.Time
}

func (h *Handler) security(q *req) { h.securityPage(q, nil, nil) }

func (h *Handler) securityPage(q *req, actionErr *awsquery.Error, newKey *iamapi.AccessKey) {
	s := q.s
	d := &securityData{Root: s.Root, Name: q.who.Name, Enrol: s.Enrol, DeviceName: s.UserName}
	if s.Root {
		d.DeviceName = "root-account-mfa-device"
	}
	if k, err := call(h, q.ctx, "ListAccessKeys", nil, h.iam.ListAccessKeys); err != nil {
		d.KeysErr = h.apiError(err)
	} else {
		d.Keys = k.AccessKeyMetadata
	}
	if m, err := call(h, q.ctx, "ListMFADevices", nil, h.iam.ListMFADevices); err != nil {
		d.MFAErr = h.apiError(err)
	} else {
		for _, dev := range m.MFADevices {
			if !strings.Contains(dev.SerialNumber, ":u2f/") {
				d.MFA = append(d.MFA, dev)
			}
		}
	}
	h.cfg.View.Read(s.Account, func(a *iam.AccountView) {
		for _, dev := range a.MFADevicesFor(mfaUserID(s)) {
			if dev.V.Type == mfaTypeWebAuthn {
				d.SecKeys = append(d.SecKeys, securityKey{Name: dev.V.Name, Serial: dev.V.Serial, Created: dev.V.EnableDate})
			}
		}
	})
	if newKey != nil {
		d.NewKey, d.NewKeyCSV = newKey, accessKeyCSV(newKey)
		d.NewKeyFile = strings.ReplaceAll(q.who.Name, "@", "_") + "_accessKeys.csv"
		if s.Root {
			d.NewKeyFile = "rootkey.csv"
		}
	}
	v := q.view("My security credentials", "security", d)
	v.Error = actionErr
	h.render(q.w, http.StatusOK, "security", v)
}

func (h *Handler) securityAction(q *req) {
	r := q.r
	var err error
	msg := ""
	switch r.PathValue("action") {
	case "password":
		if err = h.changeOwnPassword(q.ctx, r); err == nil {
			h.log.Info("console password changed", "account", q.s.Account, "user", q.s.UserName)
			// Other sessions of the identity end with the old password.
			if err = h.sessions.endOthers(q.ctx, q.s); err != nil {
				h.log.Error("console: end other sessions after a password change", "account", q.s.Account, "user", q.s.UserName, "err", err)
				err = awsquery.InternalFailure()
			}
			msg = "Your password has been changed."
		}
	case "mfa-new":
		err = h.beginEnrolment(q)
		msg = "Scan the QR code, then enter two consecutive codes."
	case "mfa-enable":
		if err = h.enableEnrolment(q); err == nil {
			msg = "Your MFA device is enabled. You will be asked for a code when you sign in."
		}
	case "mfa-cancel":
		if e := q.s.Enrol; e != nil {
			_, err = call(h, q.ctx, "DeleteVirtualMFADevice", form("SerialNumber", e.Serial), h.iam.DeleteVirtualMFADevice)
			q.s.Enrol = nil
			h.sessions.save(q.w, q.r, q.s)
			msg = "MFA enrolment cancelled."
		}
	case "mfa-remove":
		serial := r.PostFormValue("serial")
		if _, err = call(h, q.ctx, "DeactivateMFADevice", form("SerialNumber", serial), h.iam.DeactivateMFADevice); err == nil {
			if strings.Contains(serial, ":mfa/") {
				_, err = call(h, q.ctx, "DeleteVirtualMFADevice", form("SerialNumber", serial), h.iam.DeleteVirtualMFADevice)
			}
			msg = "MFA device removed."
		}
	case "key-remove":
		err = h.removeSecurityKey(q, r.PostFormValue("serial"))
		msg = "Security key removed."
	case "keys":
		var out *iamapi.CreateAccessKeyResponse
		if out, err = call(h, q.ctx, "CreateAccessKey", nil, h.iam.CreateAccessKey); err == nil {
			h.securityPage(q, nil, &out.AccessKey)
			return
		}
	case "key":
		id := r.PostFormValue("id")
		switch op := r.PostFormValue("op"); op {
		case "delete":
			_, err = call(h, q.ctx, "DeleteAccessKey", form("AccessKeyId", id), h.iam.DeleteAccessKey)
			msg = "Access key " + id + " deleted."
		case "Active", "Inactive":
			_, err = call(h, q.ctx, "UpdateAccessKey", form("AccessKeyId", id, "Status", op), h.iam.UpdateAccessKey)
			msg = "Access key " + id + " is now " + strings.ToLower(op) + "."
		}
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		h.securityPage(q, h.apiError(err), nil)
		return
	}
	h.redirect(q, "/security", msg)
}

// changeOwnPassword changes the caller's password from the form's
// old/new/confirm fields: ChangePassword for IAM users; for the root user,
// which AWS lets change its password only in the console, the old password
// is verified and the new one stored.
func (h *Handler) changeOwnPassword(ctx context.Context, r *http.Request) error {
	old, pw, confirm := r.PostFormValue("old"), r.PostFormValue("new"), r.PostFormValue("confirm")
	if pw != confirm {
		return &awsquery.Error{Code: "PasswordMismatch", Message: "The new password and its confirmation do not match.", HTTPStatus: http.StatusBadRequest, Sender: true}
	}
	c := authz.CallerFrom(ctx)
	if c == nil || c.Type != authz.Root {
		_, err := call(h, ctx, "ChangePassword", form("OldPassword", old, "NewPassword", pw), h.iam.ChangePassword)
		return err
	}
	acct, ok := h.cfg.View.Account(c.Account)
	if !ok || acct.V.RootPassword == "" {
		return &awsquery.Error{Code: "NoSuchEntity", Message: "The root user has no password.", HTTPStatus: http.StatusNotFound, Sender: true}
	}
	if err := h.cfg.Passwords.Verify(ctx, acct.V.RootPassword, old); err != nil {
		if errors.Is(err, password.ErrMismatch) {
			return &awsquery.Error{Code: "AccessDenied", Message: "The old password is incorrect.", HTTPStatus: http.StatusForbidden, Sender: true}
		}
		return err
	}
	if err := SetRootPassword(ctx, h.cfg.Writer, h.cfg.View, h.cfg.Passwords, c.Account, acct.V.Email, pw); err != nil {
		var ve *password.ViolationError
		if errors.As(err, &ve) {
			return &awsquery.Error{Code: "PasswordPolicyViolation", Message: ve.Error(), HTTPStatus: http.StatusBadRequest, Sender: true}
		}
		return err
	}
	return nil
}

// beginEnrolment creates a virtual MFA device and keeps its seed in the
// session until the device is enabled.
func (h *Handler) beginEnrolment(q *req) error {
	name := strings.TrimSpace(q.r.PostFormValue("name"))
	out, err := call(h, q.ctx, "CreateVirtualMFADevice", form("VirtualMFADeviceName", name), h.iam.CreateVirtualMFADevice)
	if err != nil {
		return err
	}
	seed, err := totp.DecodeSeed(string(out.VirtualMFADevice.Base32StringSeed))
	if err != nil {
		return err
	}
	label := q.s.Account
	if acct, ok := h.cfg.View.Account(q.s.Account); ok && acct.V.Alias != "" {
		label = acct.V.Alias
	}
	// The QR code is drawn again from the URI on each page: the PNG would
	// not fit in the session cookie.
	e := &enrolment{Serial: out.VirtualMFADevice.SerialNumber, Seed: string(out.VirtualMFADevice.Base32StringSeed), URI: totp.URI("", name+"@"+label, seed)}
	if prev := q.s.Enrol; prev != nil {
		// An abandoned enrolment's device is unassigned: remove it.
		_, _ = call(h, q.ctx, "DeleteVirtualMFADevice", form("SerialNumber", prev.Serial), h.iam.DeleteVirtualMFADevice)
	}
	q.s.Enrol = e
	h.sessions.save(q.w, q.r, q.s)
	return nil
}

// enableEnrolment enables the device being enrolled with two consecutive
// codes: EnableMFADevice for IAM users; for the root user, whose MFA AWS
// manages only in its console, the codes are verified here.
func (h *Handler) enableEnrolment(q *req) error {
	e := q.s.Enrol
	if e == nil {
		return &awsquery.Error{Code: "NoSuchEntity", Message: "No MFA device is being set up. Start again.", HTTPStatus: http.StatusNotFound, Sender: true}
	}
	code1, code2 := strings.TrimSpace(q.r.PostFormValue("code1")), strings.TrimSpace(q.r.PostFormValue("code2"))
	var err error
	if q.s.Root {
		err = h.enableRootMFA(q.ctx, q.s.Account, e.Serial, code1, code2)
	} else {
		_, err = call(h, q.ctx, "EnableMFADevice", form("UserName", q.s.UserName, "SerialNumber", e.Serial, "AuthenticationCode1", code1, "AuthenticationCode2", code2), h.iam.EnableMFADevice)
	}
	if err != nil {
		return err
	}
	q.s.Enrol = nil
	h.sessions.save(q.w, q.r, q.s)
	h.log.Info("console MFA device enabled", "account", q.s.Account, "user", q.s.UserName, "serial", e.Serial)
	return nil
}

func invalidCode() error {
	return &awsquery.Error{Code: "InvalidAuthenticationCode", Message: "Authentication code for device is not valid.", HTTPStatus: http.StatusForbidden, Sender: true}
}

// enableRootMFA assigns a virtual MFA device to the root user.
func (h *Handler) enableRootMFA(ctx context.Context, account, serial, code1, code2 string) error {
	return iam.Retry(ctx, func() error {
		var dev *iam.Entry[iam.MFADevice]
		h.cfg.View.Read(account, func(a *iam.AccountView) {
			if !strings.Contains(serial, ":mfa/") {
				return
			}
			dev, _ = a.MFADeviceBySerial(serial)
		})
		if dev == nil {
			return &awsquery.Error{Code: "NoSuchEntity", Message: "VirtualMFADevice with serial number " + serial + " doesn't exist.", HTTPStatus: http.StatusNotFound, Sender: true}
		}
		if dev.V.UserID != "" {
			return &awsquery.Error{Code: "EntityAlreadyExists", Message: "MFA Device is already in use.", HTTPStatus: http.StatusConflict, Sender: true}
		}
		seed, err := h.cfg.Secrets.Open(dev.V.Seed, []byte(dev.V.Serial))
		if err != nil {
			return err
		}
		step, err := totp.VerifyConsecutive(seed, code1, code2, h.now())
		if err != nil || int64(step) <= dev.V.LastStep {
			return invalidCode()
		}
		acct, ok := h.cfg.View.Account(account)
		if !ok {
			return errors.New("console: account gone")
		}
		n := *dev.V
		n.UserID, n.EnableDate, n.LastStep = "root", h.now().UTC().Truncate(time.Second), int64(step)
		return h.cfg.Writer.Commit(ctx,
			iam.Put(iam.KindMFADevice, account, iam.MFADeviceKey(&n), &n, dev.Version),
			iam.Touch(iam.KindAccount, "", account, acct.Version))
	})
}
