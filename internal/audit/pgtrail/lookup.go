package pgtrail

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iamd/iamd/internal/audit"
)

// lookupTimeout bounds a lookup, including the wait for this replica's
// own newest records to be shipped.
const lookupTimeout = 10 * time.Second

// syncTimeout bounds the wait for this replica's own records: past it the
// lookup answers from what the tables hold.
const syncTimeout = 2 * time.Second

// columns of audit_events that a lookup returns.
var columnOf = map[string]string{
	audit.AttrEventName:   "name",
	audit.AttrUsername:    "username",
	audit.AttrAccessKeyID: "access_key",
	audit.AttrEventSource: "source",
	audit.AttrReadOnly:    "read_only",
	audit.AttrEventID:     "event_id",
}

// Lookup answers a query from the events of every replica, newest first
// by (time, chain, sequence number), as audit.Log.Lookup does from one
// directory. The records this replica wrote before the call are shipped
// first (for up to 2 s), so that a client reads its own events.
func (t *Trail) Lookup(q audit.Query) (*audit.Page, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, syncTimeout)
	err := t.Sync(sctx)
	scancel()
	if err != nil {
		t.opts.Logger.Warn("audit trail: this replica's newest events are not shipped yet; answering without them", "err", err)
	}
	return t.lookup(ctx, q)
}

// cursor is a position in the order of a lookup.
type cursor struct {
	time  int64
	chain string
	seq   int64
}

func (t *Trail) lookup(ctx context.Context, q audit.Query) (*audit.Page, error) {
	if q.Max <= 0 {
		q.Max = 50
	}
	fp := fingerprint(&q)
	upper := cursor{time: 1 << 62}
	if q.Token != "" {
		c, err := parseToken(q.Token, fp)
		if err != nil {
			return nil, audit.ErrInvalidToken
		}
		upper = c
	}
	if !q.End.IsZero() && q.End.Unix()+1 < upper.time {
		upper = cursor{time: q.End.Unix() + 1}
	}
	start := int64(-1 << 62)
	if !q.Start.IsZero() {
		start = q.Start.Unix()
	}
	if q.Account == "" {
		return &audit.Page{}, nil
	}
	const cols = `e.time, e.chain, e.seq, e.event_id, e.name, e.read_only, e.access_key, e.source, e.username, e.resources, e.event`
	args := []any{q.Account, start, upper.time, upper.chain, upper.seq, q.Max + 1}
	var sql string
	switch q.Attribute {
	case "":
		sql = `SELECT ` + cols + ` FROM audit_events e WHERE e.account = $1 AND e.time >= $2
			AND (e.time, e.chain, e.seq) < ($3, $4, $5)
			ORDER BY e.time DESC, e.chain DESC, e.seq DESC LIMIT $6`
	case audit.AttrResourceType, audit.AttrResourceName:
		attr := "t"
		if q.Attribute == audit.AttrResourceName {
			attr = "n"
		}
		sql = `SELECT ` + cols + ` FROM audit_resources r JOIN audit_events e ON e.chain = r.chain AND e.seq = r.seq
			WHERE r.account = $1 AND r.attr = '` + attr + `' AND r.value = $7 AND r.time >= $2
			AND (r.time, r.chain, r.seq) < ($3, $4, $5)
			ORDER BY r.time DESC, r.chain DESC, r.seq DESC LIMIT $6`
		args = append(args, q.Value)
	default:
		col, ok := columnOf[q.Attribute]
		if !ok {
			return nil, fmt.Errorf("audit: unknown lookup attribute %q", q.Attribute)
		}
		var v any = q.Value
		switch q.Attribute {
		case audit.AttrReadOnly:
			v = strings.EqualFold(q.Value, "true")
		case audit.AttrEventID:
			v = strings.ToLower(q.Value)
		}
		sql = `SELECT ` + cols + ` FROM audit_events e WHERE e.account = $1 AND e.` + col + ` = $7 AND e.time >= $2
			AND (e.time, e.chain, e.seq) < ($3, $4, $5)
			ORDER BY e.time DESC, e.chain DESC, e.seq DESC LIMIT $6`
		args = append(args, v)
	}
	rows, err := t.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("audit trail: lookup: %w", err)
	}
	defer rows.Close()
	page := &audit.Page{}
	var last cursor
	n := 0
	for rows.Next() {
		n++
		if n > q.Max {
			page.NextToken = makeToken(last, fp)
			break
		}
		var (
			f   audit.Found
			c   cursor
			res string
		)
		if err := rows.Scan(&c.time, &c.chain, &c.seq, &f.EventID, &f.EventName, &f.ReadOnly, &f.AccessKeyID,
			&f.Source, &f.Username, &res, &f.JSON); err != nil {
			return nil, fmt.Errorf("audit trail: lookup: %w", err)
		}
		f.Time = time.Unix(c.time, 0).UTC()
		if f.Resources, err = parseResources(res); err != nil {
			return nil, fmt.Errorf("audit trail: event %s of chain %s: %w", strconv.FormatInt(c.seq, 10), c.chain, err)
		}
		page.Events = append(page.Events, f)
		last = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit trail: lookup: %w", err)
	}
	return page, nil
}

// resourcesJSON encodes resources as [[type, name], ...].
func resourcesJSON(res []audit.Resource) string {
	if len(res) == 0 {
		return "[]"
	}
	pairs := make([][2]string, len(res))
	for i, r := range res {
		pairs[i] = [2]string{r.Type, r.Name}
	}
	b, _ := json.Marshal(pairs) // strings always encode
	return string(b)
}

func parseResources(s string) ([]audit.Resource, error) {
	var pairs [][2]string
	if err := json.Unmarshal([]byte(s), &pairs); err != nil {
		return nil, err
	}
	var out []audit.Resource
	for _, p := range pairs {
		out = append(out, audit.Resource{Type: p[0], Name: p[1]})
	}
	return out, nil
}

// fingerprint binds a token to its query's parameters.
func fingerprint(q *audit.Query) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d", q.Account, q.Attribute, q.Value, q.Start.Unix(), q.End.Unix())
	return strconv.FormatUint(h.Sum64(), 36)
}

// makeToken is a NextToken: the position of the last event returned.
// Tokens name a chain and a position in the shared tables, so any replica
// continues a page another one returned.
func makeToken(c cursor, fp string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("p1:" + strconv.FormatInt(c.time, 10) + ":" +
		strconv.FormatInt(c.seq, 10) + ":" + fp + ":" + c.chain))
}

func parseToken(tok, fp string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return cursor{}, audit.ErrInvalidToken
	}
	parts := strings.SplitN(string(b), ":", 5)
	if len(parts) != 5 || parts[0] != "p1" || parts[3] != fp {
		return cursor{}, audit.ErrInvalidToken
	}
	t, err1 := strconv.ParseInt(parts[1], 10, 64)
	seq, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || seq < 0 || !utf8.ValidString(parts[4]) || strings.IndexByte(parts[4], 0) >= 0 {
		return cursor{}, audit.ErrInvalidToken
	}
	return cursor{t, parts[4], seq}, nil
}
