// Package awsquery is iamd's AWS Query protocol layer: the codec IAM and STS
// speak. It is driven by the botocore service models embedded under models/
// and is not specific to either service.
//
// It loads a model (LoadModel), binds its operations to Go types generated
// by shapegen (packages iamapi and stsapi), and per request:
//
//   - checks Action and Version (MissingAction, InvalidAction "Could not find
//     operation X for version V", NO_VERSION_SPECIFIED when Version is absent);
//   - decodes the form (Name, Name.member.N, Name.member.N.Key,
//     Name.entry.N.key/value) into the input struct and validates it against
//     the model, answering ValidationError in AWS's wording and order;
//   - calls the operation and writes the XML response, or the ErrorResponse
//     for an *Error, or AccessDenied for a Denial (authz's refusal); any
//     other error becomes InternalFailure.
//
// It does not authenticate, authorize, or know what an operation means: the
// server verifies SigV4 first and puts the caller in the context, and the
// handlers in iamapi and stsapi implement the operations.
//
// A handler is a method of the generated Server interface:
//
//	type IAM struct {
//		iamapi.UnimplementedServer // NotImplemented for the rest
//		users map[string]User      // whatever the handlers read
//	}
//
//	func (s *IAM) GetUser(ctx context.Context, in *iamapi.GetUserRequest) (*iamapi.GetUserResponse, error) {
//		u, ok := s.users[in.UserName]
//		if !ok {
//			return nil, iamapi.NoSuchEntityError("The user with name " + in.UserName + " cannot be found.")
//		}
//		// Any other error is logged by the server and answered as
//		// InternalFailure.
//		return &iamapi.GetUserResponse{User: iamapi.User{UserName: u.Name /* ... */}}, nil
//	}
//
// and the server, after authentication:
//
//	d, err := iamapi.NewDispatcher(&IAM{users: users}) // once, at start-up
//	...
//	form, err := awsquery.ParseForm(r, body)
//	if err != nil {
//		d.WriteError(w, err, requestID)
//		return
//	}
//	if err := d.ServeOperation(ctx, w, form, requestID); err != nil {
//		if _, ok := awsquery.As(err); !ok {
//			log.Error("operation failed", "request_id", requestID, "err", err)
//		}
//	}
//
// Decoding and encoding use reflection over plans built once per
// (shape, Go type) by NewDispatcher; a GetUser round trip costs a few
// microseconds and four allocations (BenchmarkGetUserRoundTrip).
package awsquery
