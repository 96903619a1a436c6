package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// rawConn is a worker's own keep-alive connection (-raw): requests are
// written with http.Request.Write and answers read with http.ReadResponse,
// without http.Transport's connection pool, goroutines and channels, so
// that the load generator spends several times less CPU per request than
// with http.Client and the server, not the generator, is what a run on
// two cores measures.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

// callRaw is call over the worker's raw connection, dialled on first use
// and again after an error.
func callRaw(cfg config, w *worker, form url.Values) (int, []byte, error) {
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, cfg.endpoint+"/", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := cfg.signer.Sign(req, []byte(body)); err != nil {
		return 0, nil, err
	}
	if w.raw == nil {
		c, err := net.Dial("tcp", req.URL.Host)
		if err != nil {
			return 0, nil, err
		}
		w.raw = &rawConn{c: c, br: bufio.NewReaderSize(c, 16<<10)}
	}
	code, b, err := w.raw.roundTrip(req)
	if err != nil {
		_ = w.raw.c.Close()
		w.raw = nil
	}
	return code, b, err
}

func (rc *rawConn) roundTrip(req *http.Request) (int, []byte, error) {
	if err := req.Write(rc.c); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(rc.br, req)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && resp.Close {
		err = fmt.Errorf("server closed the connection")
	}
	return resp.StatusCode, b, err
}
