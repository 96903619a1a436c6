package awsquery

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"sync"
)

// Binding connects one operation of the model to Go: the struct types that
// hold its input and output and the function that runs it. Generated code
// (see shapegen) builds one per operation.
type Binding struct {
	// Name is the operation name, e.g. "GetUser".
	Name string
	// Input and Output are struct types (not pointers).
	Input, Output reflect.Type
	// Call runs the operation. in is a pointer to a decoded Input; the
	// result must be a pointer to Output (nil is an empty response).
	Call func(ctx context.Context, in any) (any, error)
}

// Dispatcher serves the operations of one awsQuery service: it checks
// Action and Version, decodes and validates the form into the operation's
// input, calls the bound function, and writes the XML response or error.
// It is safe for concurrent use.
type Dispatcher struct {
	model *Model
	ops   map[string]*boundOp
	bufs  sync.Pool
	// retry, when set, is asked about an operation's error: true runs the
	// operation once more (see RetryWhen).
	retry func(ctx context.Context, err error) bool
}

// RetryWhen makes the dispatcher run an operation a second time when it
// fails with an error for which retry returns true, after retry returned
// (which may wait for something, such as the view catching up with other
// replicas' commits). Call it before serving.
func (d *Dispatcher) RetryWhen(retry func(ctx context.Context, err error) bool) {
	d.retry = retry
}

type boundOp struct {
	op      *Operation
	binding Binding
	in, out *typePlan
	// Precomputed envelope around the result.
	head, resultOpen, resultClose, tail string
}

// NewDispatcher binds operations of m to Go. It fails if a binding names an
// unknown operation or its types do not match the model's shapes; model
// operations without a binding answer NotImplemented.
func NewDispatcher(m *Model, bindings []Binding) (*Dispatcher, error) {
	d := &Dispatcher{model: m, ops: make(map[string]*boundOp, len(bindings))}
	pl := &planner{plans: make(map[planKey]*typePlan), empty: &Shape{Type: "structure"}}
	for _, b := range bindings {
		op, ok := m.Operations[b.Name]
		if !ok {
			return nil, fmt.Errorf("awsquery: %s has no operation %q", m.ServiceID, b.Name)
		}
		if b.Input == nil || b.Output == nil || b.Call == nil {
			return nil, fmt.Errorf("awsquery: binding %s is incomplete", b.Name)
		}
		inShape, outShape := op.Input, op.Output
		if inShape == nil {
			inShape = pl.empty
		}
		if outShape == nil {
			outShape = pl.empty
		}
		in, err := pl.plan(inShape, b.Input)
		if err != nil {
			return nil, fmt.Errorf("awsquery: %s input: %w", b.Name, err)
		}
		out, err := pl.plan(outShape, b.Output)
		if err != nil {
			return nil, fmt.Errorf("awsquery: %s output: %w", b.Name, err)
		}
		bo := &boundOp{
			op: op, binding: b, in: in, out: out,
			head: "<" + op.Name + `Response xmlns="` + string(appendEscaped(nil, m.XMLNamespace)) + `">`,
			tail: "<ResponseMetadata><RequestId>",
		}
		if op.Output != nil {
			bo.resultOpen, bo.resultClose = "<"+op.ResultWrapper+">", "</"+op.ResultWrapper+">"
		}
		d.ops[b.Name] = bo
	}
	d.bufs.New = func() any { b := make([]byte, 0, 2048); return &b }
	return d, nil
}

// Model returns the model the dispatcher serves.
func (d *Dispatcher) Model() *Model { return d.model }

// Decode validates form against operation action's input and returns a
// pointer to the decoded input struct, or an *Error (ValidationError,
// InvalidAction).
func (d *Dispatcher) Decode(action string, form url.Values) (any, error) {
	bo, ok := d.ops[action]
	if !ok {
		return nil, InvalidAction(action, d.model.APIVersion)
	}
	return bo.decode(form)
}

func (bo *boundOp) decode(form url.Values) (any, error) {
	in := reflect.New(bo.binding.Input)
	dec := decoder{form: form}
	dec.decodeStruct(bo.in, in.Elem(), "", "")
	if err := dec.validationError(); err != nil {
		return nil, err
	}
	return in.Interface(), nil
}

// AppendResponse appends the XML response document of operation action
// with output out (a pointer to its output struct, or nil).
func (d *Dispatcher) AppendResponse(b []byte, action string, out any, requestID string) ([]byte, error) {
	bo, ok := d.ops[action]
	if !ok {
		return b, InvalidAction(action, d.model.APIVersion)
	}
	return bo.appendResponse(b, out, requestID)
}

func (bo *boundOp) appendResponse(b []byte, out any, requestID string) ([]byte, error) {
	var v reflect.Value
	if out != nil {
		v = reflect.ValueOf(out)
		if v.Kind() != reflect.Pointer || v.Type().Elem() != bo.binding.Output {
			return b, fmt.Errorf("awsquery: %s returned %T, want *%s", bo.op.Name, out, bo.binding.Output)
		}
	}
	if !v.IsValid() || v.IsNil() {
		v = reflect.New(bo.binding.Output)
	}
	b = append(b, bo.head...)
	if bo.resultOpen != "" {
		b = append(b, bo.resultOpen...)
		b = appendStruct(b, bo.out, v.Elem())
		b = append(b, bo.resultClose...)
	}
	b = append(b, bo.tail...)
	b = appendEscaped(b, requestID)
	b = append(b, "</RequestId></ResponseMetadata></"...)
	b = append(b, bo.op.Name...)
	b = append(b, "Response>"...)
	return b, nil
}

// ServeOperation answers one awsQuery request whose parameters (body and
// query string, see ParseForm) are form, after authentication. It writes
// the response or the ErrorResponse and returns nil on success, the *Error
// it wrote, or — for an unexpected error or a panic in the operation, which
// the client only sees as InternalFailure — the cause, for the caller to
// log with requestID.
func (d *Dispatcher) ServeOperation(ctx context.Context, w http.ResponseWriter, form url.Values, requestID string) error {
	action := form.Get("Action")
	if action == "" {
		return d.WriteError(w, MissingAction(), requestID)
	}
	if v := form.Get("Version"); v != d.model.APIVersion {
		return d.WriteError(w, InvalidAction(action, v), requestID)
	}
	bo, ok := d.ops[action]
	if !ok {
		if _, inModel := d.model.Operations[action]; inModel {
			return d.WriteError(w, NotImplemented(action), requestID)
		}
		return d.WriteError(w, InvalidAction(action, d.model.APIVersion), requestID)
	}
	in, err := bo.decode(form)
	if err != nil {
		return d.WriteError(w, err, requestID)
	}
	out, err := bo.call(ctx, in)
	if err != nil && d.retry != nil && d.retry(ctx, err) {
		// Decoded afresh: the first call may have changed its input.
		if in, err = bo.decode(form); err == nil {
			out, err = bo.call(ctx, in)
		}
	}
	if err != nil {
		return d.WriteError(w, err, requestID)
	}
	bp := d.bufs.Get().(*[]byte)
	b, err := bo.appendResponse((*bp)[:0], out, requestID)
	if err != nil {
		d.bufs.Put(bp)
		return d.WriteError(w, err, requestID)
	}
	writeXML(w, http.StatusOK, b, requestID)
	if cap(b) <= maxPooledBuffer {
		*bp = b
		d.bufs.Put(bp)
	}
	return nil
}

// maxPooledBuffer keeps a rare huge response (GetAccountAuthorizationDetails)
// from pinning its buffer in the pool.
const maxPooledBuffer = 256 << 10

// ErrPanic wraps the value of a panic in an operation.
var ErrPanic = errors.New("awsquery: operation panicked")

func (bo *boundOp) call(ctx context.Context, in any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: %s: %v\n%s", ErrPanic, bo.op.Name, r, debug.Stack())
		}
	}()
	return bo.binding.Call(ctx, in)
}

// WriteError writes err as an awsQuery ErrorResponse. An *Error anywhere in
// err's chain is written as is, a Denial as AccessDenied; anything else
// becomes InternalFailure. It returns err.
func (d *Dispatcher) WriteError(w http.ResponseWriter, err error, requestID string) error {
	WriteError(w, d.model.XMLNamespace, err, requestID)
	return err
}

// WriteError writes err as an awsQuery ErrorResponse in namespace ns; for
// use before a Dispatcher is known. Errors other than an *Error or a
// Denial become InternalFailure.
func WriteError(w http.ResponseWriter, ns string, err error, requestID string) {
	e, ok := As(err)
	if !ok {
		e = InternalFailure()
	}
	writeXML(w, e.HTTPStatus, appendErrorXML(make([]byte, 0, 512), ns, e, requestID), requestID)
}

func writeXML(w http.ResponseWriter, status int, body []byte, requestID string) {
	h := w.Header()
	h["Content-Type"] = []string{"text/xml"}
	if requestID != "" {
		h["X-Amzn-Requestid"] = []string{requestID}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ParseForm returns the awsQuery parameters of r: the query string merged
// with, for POST, the form-encoded body (already read for signature
// verification). Body values come first. Only GET and POST are allowed.
func ParseForm(r *http.Request, body []byte) (url.Values, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, MethodNotAllowed(r.Method)
	}
	post := r.Method == http.MethodPost && len(body) > 0
	var form url.Values
	if r.URL.RawQuery != "" || !post {
		var err error
		if form, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			return nil, MalformedQueryString("The query string is malformed: " + err.Error())
		}
	}
	if post {
		if ct := r.Header.Get("Content-Type"); ct != "" && !isFormType(ct) {
			return nil, MalformedQueryString("Unsupported Content-Type " + ct + "; send application/x-www-form-urlencoded.")
		}
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, MalformedQueryString("The request body is malformed: " + err.Error())
		}
		for k, vs := range form {
			bf[k] = append(bf[k], vs...)
		}
		form = bf
	}
	return form, nil
}

// isFormType reports whether a Content-Type is a form's. The SDKs' and the
// CLI's exact spellings are recognised without parsing them.
func isFormType(ct string) bool {
	switch ct {
	case "application/x-www-form-urlencoded; charset=utf-8", "application/x-www-form-urlencoded":
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}
