package stsapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
)

// TestGeneratedBindings checks that every generated type matches its model
// shape (NewDispatcher builds a plan per operation) and that every operation
// of UnimplementedServer answers, through the dispatcher, with an AWS error
// rather than a panic: NotImplemented, or ValidationError when the empty
// request lacks required members.
func TestGeneratedBindings(t *testing.T) {
	d, err := NewDispatcher(UnimplementedServer{})
	if err != nil {
		t.Fatal(err)
	}
	for name := range d.Model().Operations {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			form := url.Values{"Action": {name}, "Version": {Version}}
			err := d.ServeOperation(context.Background(), rec, form, "req")
			var e *awsquery.Error
			if !errors.As(err, &e) || (e.Code != awsquery.CodeNotImplemented && e.Code != awsquery.CodeValidationError) {
				t.Fatalf("ServeOperation = %v, want NotImplemented or ValidationError", err)
			}
			if e.Code == awsquery.CodeNotImplemented && rec.Code != 501 {
				t.Errorf("status = %d, want 501", rec.Code)
			}
		})
	}
	if Version != "2011-06-15" {
		t.Errorf("Version = %q", Version)
	}
}
