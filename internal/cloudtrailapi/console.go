package cloudtrailapi

import "context"

// LookupEventsOutput is LookupEvents' answer: Events (newest first) and
// NextToken.
type LookupEventsOutput = lookupEventsOutput

// LookupEvents answers a LookupEvents request body (the JSON protocol's)
// for the caller in ctx exactly as Serve does: authorized as
// cloudtrail:LookupEvents, validated, paged. The web console's event
// history calls it, so that it shows what the API would answer. Errors
// are *Error or, from authorization, *awsquery.Error.
func (h *Handler) LookupEvents(ctx context.Context, body []byte) (*LookupEventsOutput, error) {
	return h.lookupEvents(ctx, body)
}
