package server

import (
	"context"
	"errors"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
)

// catchUpWithin bounds how long a request that did not find an entity
// waits for the view to catch up with the other replicas' commits.
const catchUpWithin = 2 * time.Second

// catchUpOnMissing reports whether an operation that failed with err should
// run again: when it did not find an entity (NoSuchEntity), after the view
// has read every commit made before now by any replica.
func catchUpOnMissing(ctx context.Context, view *iam.View, err error) bool {
	var ae *awsquery.Error
	if !errors.As(err, &ae) || ae.Code != "NoSuchEntity" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, catchUpWithin)
	defer cancel()
	return view.Sync(ctx)
}
