// SPDX-License-Identifier: MIT

// geerpc-http speaks RPC over HTTP as Go GeeRPC does (day 5, "support the
// HTTP protocol"), standard library only, with the JSON codec:
//
//	geerpc-http client HOST:PORT N
//	    dials HOST:PORT, sends "CONNECT /_geeprc_ HTTP/1.0", expects
//	    "200 Connected to Gee RPC", then the Option and N calls of Foo.Sum
//	    (Num1 = i, Num2 = 10*i) on the one connection; prints one line per
//	    call, "Foo.Sum i+10i=REPLY", then one call of Foo.Nope,
//	    "Foo.Nope error: TEXT".
//	geerpc-http server
//	    serves Foo.Sum on 127.0.0.1 (an ephemeral port) as the original's
//	    HandleHTTP does: CONNECT /_geeprc_ is hijacked and answered
//	    "HTTP/1.0 200 Connected to Gee RPC", other methods get
//	    "405 must CONNECT"; prints "listening on tcp@127.0.0.1:PORT" and
//	    serves until it is killed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

const (
	magicNumber = 0x3bef5c
	rpcPath     = "/_geeprc_"
	connected   = "200 Connected to Gee RPC"
)

type option struct {
	MagicNumber    int
	CodecType      string
	ConnectTimeout time.Duration
	HandleTimeout  time.Duration
}

type header struct {
	ServiceMethod string
	Seq           uint64
	Error         string
}

type args struct{ Num1, Num2 int }

// stream is one GeeRPC JSON stream: values one after the other.
type stream struct {
	enc *json.Encoder
	dec *json.Decoder
}

func newStream(r io.Reader, w io.Writer) *stream {
	return &stream{enc: json.NewEncoder(w), dec: json.NewDecoder(r)}
}

func (s *stream) write(h *header, body interface{}) error {
	if err := s.enc.Encode(h); err != nil {
		return err
	}
	return s.enc.Encode(body)
}

func (s *stream) read(h *header, body interface{}) error {
	if err := s.dec.Decode(h); err != nil {
		return err
	}
	return s.dec.Decode(body)
}

// ---- client ------------------------------------------------------------------

// dialHTTP is what the original's DialHTTP does before NewClient.
func dialHTTP(addr string) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_, _ = io.WriteString(conn, "CONNECT "+rpcPath+" HTTP/1.0\n\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "CONNECT"})
	if err == nil && resp.Status != connected {
		err = errors.New("unexpected HTTP response: " + resp.Status)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

func client(addr string, n int) error {
	conn, err := dialHTTP(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	s := newStream(conn, conn)
	if err := s.enc.Encode(&option{MagicNumber: magicNumber, CodecType: "application/json"}); err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		var h header
		var reply json.RawMessage
		if err := s.write(&header{ServiceMethod: "Foo.Sum", Seq: uint64(i)}, &args{i, 10 * i}); err != nil {
			return err
		}
		if err := s.read(&h, &reply); err != nil {
			return err
		}
		if h.Seq != uint64(i) || h.Error != "" {
			return fmt.Errorf("call %d: seq %d, error %q", i, h.Seq, h.Error)
		}
		fmt.Printf("Foo.Sum %d+%d=%s\n", i, 10*i, reply)
	}
	var h header
	var reply json.RawMessage
	if err := s.write(&header{ServiceMethod: "Foo.Nope", Seq: uint64(n + 1)}, &args{}); err != nil {
		return err
	}
	if err := s.read(&h, &reply); err != nil {
		return err
	}
	fmt.Printf("Foo.Nope error: %s\n", h.Error)
	return nil
}

// ---- server ------------------------------------------------------------------

func serveConn(r io.Reader, w io.Writer) {
	s := newStream(r, w)
	var opt option
	if err := s.dec.Decode(&opt); err != nil || opt.MagicNumber != magicNumber || opt.CodecType != "application/json" {
		return
	}
	for {
		var h header
		var body json.RawMessage
		if err := s.read(&h, &body); err != nil {
			return
		}
		var reply interface{} = struct{}{}
		if h.ServiceMethod != "Foo.Sum" {
			h.Error = "rpc server: can't find method " + h.ServiceMethod
		} else {
			var a args
			if err := json.Unmarshal(body, &a); err != nil {
				h.Error = "rpc server: read body err: " + err.Error()
			} else {
				reply = a.Num1 + a.Num2
			}
		}
		if err := s.write(&h, reply); err != nil {
			return
		}
	}
}

type rpcHandler struct{}

// ServeHTTP answers as the original's Server.ServeHTTP.
func (rpcHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != "CONNECT" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = io.WriteString(w, "405 must CONNECT\n")
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "HTTP/1.0 "+connected+"\n\n")
	serveConn(buf, conn)
}

func server() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(rpcPath, rpcHandler{})
	fmt.Printf("listening on tcp@%s\n", ln.Addr())
	return http.Serve(ln, mux)
}

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "client":
		n, convErr := strconv.Atoi(os.Args[3])
		if convErr != nil {
			err = convErr
		} else {
			err = client(os.Args[2], n)
		}
	case len(os.Args) == 2 && os.Args[1] == "server":
		err = server()
	default:
		fmt.Fprintln(os.Stderr, "usage: geerpc-http client HOST:PORT N | geerpc-http server")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "geerpc-http:", err)
		os.Exit(1)
	}
}
