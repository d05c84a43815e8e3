// SPDX-License-Identifier: MIT

// gob-peer is Go GeeRPC (day 7) with its default codec, client and server
// built as the original builds them, for geerpc's tests and its benchmark:
// the Option as JSON (json.Encoder), then per message a gob header
// {ServiceMethod string; Seq uint64; Error string} and a gob body, one gob
// stream per direction of the connection. Written from the documentation
// of encoding/gob, encoding/json, net, net/http and reflect, with the
// standard library only (the tests have no network).
//
// What matters for behaviour and performance is as the original has it:
//
//   - the server reads the Option through a JSON decoder on the connection
//     (which may read ahead: what it read past the Option is lost, as in
//     the original, which is why geerpc pads its Option), then gob through
//     one gob.Decoder per connection; every request is served on a
//     goroutine of its own, which runs the method through reflection on
//     another goroutine and waits for it on channels (the handle-timeout
//     shape); replies are written under the connection's sending mutex,
//     gob into a bufio.Writer flushed after each reply;
//
//   - the client registers each call under a new Seq in a pending map
//     guarded by a mutex, writes under a sending mutex (gob, bufio, flush),
//     and one receiving goroutine per connection matches replies by Seq and
//     completes calls through their Done channel, as net/rpc does;
//
//   - the registry is a map from address to last heartbeat under a mutex;
//     POST stores X-Geerpc-Server, GET answers X-Geerpc-Servers, expired
//     entries are dropped and the rest sorted on each GET.
//
// The tests:
//
//	gob-peer client ADDR             call geerpc-example's Foo at ADDR as Go
//	                                 GeeRPC's client does, checking every reply
//	gob-peer server [REGISTRY_URL]   serve Foo.Sum, Foo.Sleep, Foo.Text (a
//	                                 string that is not UTF-8) and Echo.Echo
//	                                 on 127.0.0.1:0; print "serving on
//	                                 tcp@HOST:PORT"; heartbeat to the registry
//	gob-peer roundtrip ECHO          the round-trip table through ECHO
//	                                 (tests/integration/gob-echo.c)
//
// Each prints "... ok" and exits 0 when every check passed, or says what
// failed and exits 1. And geerpc-bench (tests/bench/bench-go.c), which
// runs the server above and:
//
//	gob-peer registry                serve /_geerpc_/registry on 127.0.0.1:0,
//	                                 print "registry on http://HOST:PORT/_geerpc_/registry"
//	gob-peer bench ADDR              run the workloads read from standard input,
//	                                 one per line, and print one result line each:
//	    seq SIZE MS                  one caller for MS milliseconds
//	    conc CALLERS SIZE MS         CALLERS goroutines sharing one connection
//	    conns N CALLERS MS           N connections (dialled once, kept), CALLERS
//	                                 goroutines each taking the next connection
//	    idle N                       N more connections, one call each, kept open
//	    close                        close the idle connections
//	                                 SIZE 0 calls Foo.Sum, otherwise Echo.Echo
//	                                 with a string of SIZE bytes; every reply is
//	                                 checked. A result is "ok calls=N secs=S
//	                                 p50_us=P" or "error TEXT". Its connections
//	                                 pad the Option (as geerpc's gob client
//	                                 does) so that the server's read-ahead
//	                                 loses nothing.
package main

import (
	"bufio"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

const magicNumber = 0x3bef5c

// Option is what a client writes first, as JSON.
type Option struct {
	MagicNumber    int
	CodecType      string
	ConnectTimeout time.Duration
	HandleTimeout  time.Duration
}

// Header precedes every body, in both directions.
type Header struct {
	ServiceMethod string
	Seq           uint64
	Error         string
}

// Args are Foo's arguments.
type Args struct{ Num1, Num2 int }

var failures int

func check(ok bool, format string, a ...interface{}) {
	if !ok {
		failures++
		fmt.Printf("FAIL: "+format+"\n", a...)
	}
}

func finish(what string) {
	if failures > 0 {
		fmt.Printf("%s: %d failures\n", what, failures)
		os.Exit(1)
	}
	fmt.Println(what, "ok")
}

// ---- the gob codec ----------------------------------------------------------

type gobCodec struct {
	conn io.Closer
	buf  *bufio.Writer
	dec  *gob.Decoder
	enc  *gob.Encoder
}

func newGobCodec(conn net.Conn, r io.Reader) *gobCodec {
	buf := bufio.NewWriter(conn)
	return &gobCodec{conn: conn, buf: buf, dec: gob.NewDecoder(r), enc: gob.NewEncoder(buf)}
}

func (c *gobCodec) readHeader(h *Header) error   { return c.dec.Decode(h) }
func (c *gobCodec) readBody(b interface{}) error { return c.dec.Decode(b) }

func (c *gobCodec) write(h *Header, body interface{}) (err error) {
	defer func() {
		if ferr := c.buf.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			c.conn.Close()
		}
	}()
	if err = c.enc.Encode(h); err != nil {
		return err
	}
	return c.enc.Encode(body)
}

// ---- services, called through reflection -----------------------------------

type Foo int

func (f Foo) Sum(args Args, reply *int) error {
	*reply = args.Num1 + args.Num2
	return nil
}

func (f Foo) Sleep(args Args, reply *int) error {
	time.Sleep(time.Duration(args.Num1) * time.Second)
	*reply = args.Num1 + args.Num2
	return nil
}

// Text answers a string that is not UTF-8 (gob strings are bytes).
func (f Foo) Text(args Args, reply *string) error {
	*reply = "ok \xff\x00"
	return nil
}

type Echo int

func (e Echo) Echo(args string, reply *string) error {
	*reply = args
	return nil
}

type method struct {
	fn                 reflect.Value
	argType, replyType reflect.Type
}

type service struct {
	rcvr    reflect.Value
	methods map[string]*method
}

var errorType = reflect.TypeOf((*error)(nil)).Elem()

func newService(rcvr interface{}) *service {
	s := &service{rcvr: reflect.ValueOf(rcvr), methods: map[string]*method{}}
	t := reflect.TypeOf(rcvr)
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		mt := m.Type
		if mt.NumIn() != 3 || mt.NumOut() != 1 || mt.Out(0) != errorType || mt.In(2).Kind() != reflect.Ptr {
			continue
		}
		s.methods[m.Name] = &method{fn: m.Func, argType: mt.In(1), replyType: mt.In(2).Elem()}
	}
	return s
}

var services = map[string]*service{"Foo": newService(Foo(0)), "Echo": newService(Echo(0))}

// ---- the server ------------------------------------------------------------

type request struct {
	h      *Header
	svc    *service
	m      *method
	argv   reflect.Value
	replyv reflect.Value
}

// The body of an error reply, as the original's.
var invalidRequest = struct{}{}

// As the original: the body of a request it cannot route is not read.
func readRequest(cc *gobCodec) (*request, error) {
	var h Header
	if err := cc.readHeader(&h); err != nil {
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			log.Println("rpc server: read header error:", err)
		}
		return nil, err
	}
	req := &request{h: &h}
	dot := strings.LastIndex(h.ServiceMethod, ".")
	if dot < 0 {
		return req, errors.New("rpc server: service/method request ill-formed: " + h.ServiceMethod)
	}
	req.svc = services[h.ServiceMethod[:dot]]
	if req.svc == nil {
		return req, errors.New("rpc server: can't find service " + h.ServiceMethod[:dot])
	}
	req.m = req.svc.methods[h.ServiceMethod[dot+1:]]
	if req.m == nil {
		return req, errors.New("rpc server: can't find method " + h.ServiceMethod[dot+1:])
	}
	req.argv = reflect.New(req.m.argType)
	req.replyv = reflect.New(req.m.replyType)
	if err := cc.readBody(req.argv.Interface()); err != nil {
		return req, errors.New("rpc server: read argv err: " + err.Error())
	}
	return req, nil
}

func sendResponse(cc *gobCodec, h *Header, body interface{}, sending *sync.Mutex) {
	sending.Lock()
	defer sending.Unlock()
	_ = cc.write(h, body)
}

func handleRequest(cc *gobCodec, req *request, sending *sync.Mutex, wg *sync.WaitGroup, timeout time.Duration) {
	defer wg.Done()
	called, sent := make(chan struct{}), make(chan struct{})
	go func() {
		out := req.m.fn.Call([]reflect.Value{req.svc.rcvr, req.argv.Elem(), req.replyv})
		called <- struct{}{}
		if err, _ := out[0].Interface().(error); err != nil {
			req.h.Error = err.Error()
			sendResponse(cc, req.h, invalidRequest, sending)
		} else {
			sendResponse(cc, req.h, req.replyv.Interface(), sending)
		}
		sent <- struct{}{}
	}()
	if timeout == 0 {
		<-called
		<-sent
		return
	}
	select {
	case <-time.After(timeout):
		req.h.Error = fmt.Sprintf("rpc server: request handle timeout: expect within %s", timeout)
		sendResponse(cc, req.h, invalidRequest, sending)
	case <-called:
		<-sent
	}
}

func serveConn(conn net.Conn) {
	defer conn.Close()
	var opt Option
	if err := json.NewDecoder(conn).Decode(&opt); err != nil {
		log.Println("rpc server: options error: ", err)
		return
	}
	if opt.MagicNumber != magicNumber {
		log.Printf("rpc server: invalid magic number %x", opt.MagicNumber)
		return
	}
	if opt.CodecType != "application/gob" {
		log.Printf("rpc server: invalid codec type %s", opt.CodecType)
		return
	}
	cc := newGobCodec(conn, conn)
	sending, wg := new(sync.Mutex), new(sync.WaitGroup)
	for {
		req, err := readRequest(cc)
		if err != nil {
			if req == nil {
				break
			}
			req.h.Error = err.Error()
			sendResponse(cc, req.h, invalidRequest, sending)
			continue
		}
		wg.Add(1)
		go handleRequest(cc, req, sending, wg, opt.HandleTimeout)
	}
	wg.Wait()
}

func heartbeat(registry, addr string) {
	for {
		req, _ := http.NewRequest("POST", registry, nil)
		req.Header.Set("X-Geerpc-Server", addr)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		time.Sleep(2 * time.Second)
	}
}

func runServer(registry string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	addr := "tcp@" + l.Addr().String()
	fmt.Println("serving on", addr)
	if registry != "" {
		go heartbeat(registry, addr)
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			continue
		}
		go serveConn(conn)
	}
}

// ---- the client ------------------------------------------------------------

type Call struct {
	Seq           uint64
	ServiceMethod string
	Args, Reply   interface{}
	Error         error
	Done          chan *Call
}

type Client struct {
	cc       *gobCodec
	sending  sync.Mutex
	header   Header
	mu       sync.Mutex
	seq      uint64
	pending  map[uint64]*Call
	shutdown bool
}

// optionPadded: the size the Option is padded to with blanks (0: as
// json.Encoder writes it).
func dial(addr string, handleTimeout time.Duration, optionPadded int) (*Client, error) {
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "tcp@"), 10*time.Second)
	if err != nil {
		return nil, err
	}
	opt, _ := json.Marshal(&Option{magicNumber, "application/gob", 10 * time.Second, handleTimeout})
	opt = append(opt, '\n')
	if pad := optionPadded - len(opt); pad > 0 {
		opt = append(opt, strings.Repeat(" ", pad)...)
	}
	if _, err := conn.Write(opt); err != nil {
		conn.Close()
		return nil, err
	}
	c := &Client{cc: newGobCodec(conn, conn), seq: 1, pending: map[uint64]*Call{}}
	go c.receive()
	return c, nil
}

func (c *Client) registerCall(call *Call) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shutdown {
		return 0, errors.New("connection is shut down")
	}
	call.Seq = c.seq
	c.pending[call.Seq] = call
	c.seq++
	return call.Seq, nil
}

func (c *Client) removeCall(seq uint64) *Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	call := c.pending[seq]
	delete(c.pending, seq)
	return call
}

func (c *Client) terminateCalls(err error) {
	c.sending.Lock()
	defer c.sending.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shutdown = true
	for _, call := range c.pending {
		call.Error = err
		call.Done <- call
	}
}

func (c *Client) receive() {
	var err error
	for err == nil {
		var h Header
		if err = c.cc.readHeader(&h); err != nil {
			break
		}
		call := c.removeCall(h.Seq)
		switch {
		case call == nil:
			err = c.cc.readBody(nil)
		case h.Error != "":
			call.Error = errors.New(h.Error)
			err = c.cc.readBody(nil)
			call.Done <- call
		default:
			err = c.cc.readBody(call.Reply)
			if err != nil {
				call.Error = errors.New("reading body " + err.Error())
			}
			call.Done <- call
		}
	}
	c.terminateCalls(err)
}

func (c *Client) send(call *Call) {
	c.sending.Lock()
	defer c.sending.Unlock()
	seq, err := c.registerCall(call)
	if err != nil {
		call.Error = err
		call.Done <- call
		return
	}
	c.header.ServiceMethod = call.ServiceMethod
	c.header.Seq = seq
	c.header.Error = ""
	if err := c.cc.write(&c.header, call.Args); err != nil {
		if call := c.removeCall(seq); call != nil {
			call.Error = err
			call.Done <- call
		}
	}
}

// Go starts a call; its Done channel receives it when it is complete.
func (c *Client) Go(serviceMethod string, args, reply interface{}) *Call {
	call := &Call{ServiceMethod: serviceMethod, Args: args, Reply: reply, Done: make(chan *Call, 1)}
	c.send(call)
	return call
}

func (c *Client) Call(serviceMethod string, args, reply interface{}) error {
	return (<-c.Go(serviceMethod, args, reply).Done).Error
}

// CallWithin is Call for the tests: a call that never ends fails them.
func (c *Client) CallWithin(serviceMethod string, args, reply interface{}, limit time.Duration) error {
	select {
	case call := <-c.Go(serviceMethod, args, reply).Done:
		return call.Error
	case <-time.After(limit):
		return errors.New("no reply within " + limit.String())
	}
}

func (c *Client) Close() { c.cc.conn.Close() }

// ---- the tests' client -----------------------------------------------------

func runClient(addr string) {
	c, err := dial(addr, time.Second, 0)
	if err != nil {
		fmt.Println("FAIL: dial:", err)
		os.Exit(1)
	}
	sum := func(a, b int) (int, error) {
		var r int
		err := c.CallWithin("Foo.Sum", &Args{a, b}, &r, time.Minute)
		return r, err
	}
	r, err := sum(3, 4)
	check(err == nil && r == 7, "Foo.Sum 3+4: %d %v", r, err)
	// Zero fields are left out by gob: the server must read them as 0.
	r, err = sum(0, 5)
	check(err == nil && r == 5, "Foo.Sum 0+5: %d %v", r, err)
	r, err = sum(-9, 0)
	check(err == nil && r == -9, "Foo.Sum -9+0: %d %v", r, err)

	var s int
	err = c.CallWithin("Foo.Sleep", &Args{Num1: 2}, &s, time.Minute)
	check(err != nil && err.Error() == "rpc server: request handle timeout: expect within 1s",
		"Foo.Sleep past the handle timeout: %v", err)
	err = c.CallWithin("Foo.Sleep", &Args{0, 4}, &s, time.Minute)
	check(err == nil && s == 4, "Foo.Sleep within the handle timeout: %d %v", s, err)

	for _, t := range []struct{ method, want string }{
		{"Foo.Nope", "rpc server: can't find method Nope"},
		{"Bar.Sum", "rpc server: can't find service Bar"},
		{"FooSum", "rpc server: service/method request ill-formed: FooSum"},
	} {
		err = c.CallWithin(t.method, &Args{1, 2}, &s, time.Minute)
		check(err != nil && err.Error() == t.want, "%s: %v, want %q", t.method, err, t.want)
	}
	r, err = sum(20, 22)
	check(err == nil && r == 42, "Foo.Sum after the errors: %d %v", r, err)

	// 1,000 concurrent calls over the one connection, each reply checked.
	const n = 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := sum(i, 2*i+1)
			if err != nil || r != 3*i+1 {
				mu.Lock()
				if bad < 5 {
					fmt.Printf("FAIL: concurrent Foo.Sum %d: %d %v\n", i, r, err)
				}
				bad++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	check(bad == 0, "%d of %d concurrent calls failed", bad, n)
	c.Close()
	if bad == 0 {
		fmt.Printf("concurrent %d ok\n", n)
	}

	// A reply that does not fit the reply type fails that call (and, as
	// with Go's own client, leaves the gob stream unusable).
	c, err = dial(addr, 0, 0)
	if err == nil {
		var text string
		err = c.CallWithin("Foo.Sum", &Args{1, 1}, &text, time.Minute)
		check(err != nil && err.Error() == "reading body gob: decoding into local type *string, received remote type int",
			"int reply into a string: %v", err)
		c.Close()
	}
	finish("client")
}

// ---- the benchmark's workloads -----------------------------------------------

// The Option's size on the benchmark's connections: what geerpc's gob
// client pads it to, so that the server's JSON decoder reads no further.
const benchOptionSize = 512

var checkFailed int64

// oneCall makes one checked call: Foo.Sum when payload is empty, else Echo.
func oneCall(c *Client, i int, payload string) {
	if payload == "" {
		var reply int
		if err := c.Call("Foo.Sum", Args{i, 5678}, &reply); err != nil || reply != i+5678 {
			atomic.AddInt64(&checkFailed, 1)
		}
		return
	}
	var reply string
	if err := c.Call("Echo.Echo", payload, &reply); err != nil || len(reply) != len(payload) || reply != payload {
		atomic.AddInt64(&checkFailed, 1)
	}
}

func payloadOf(size int) string {
	if size == 0 {
		return ""
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return string(b)
}

// run starts callers goroutines, each calling pick(goroutine, i) until the
// deadline; it returns the calls made and the median latency of goroutine 0.
func run(callers int, d time.Duration, payload string, pick func(g, i int) *Client) (int64, float64, float64) {
	var total int64
	var wg sync.WaitGroup
	var lat []time.Duration
	start := time.Now()
	end := start.Add(d)
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			n := 0
			for time.Now().Before(end) {
				t0 := time.Now()
				oneCall(pick(g, n), n, payload)
				if g == 0 {
					lat = append(lat, time.Since(t0))
				}
				n++
			}
			atomic.AddInt64(&total, int64(n))
		}(g)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50 := 0.0
	if len(lat) > 0 {
		p50 = float64(lat[len(lat)/2].Nanoseconds()) / 1000
	}
	return total, secs, p50
}

func dialMany(addr string, n int) ([]*Client, error) {
	cs := make([]*Client, 0, n)
	for i := 0; i < n; i++ {
		c, err := dial(addr, 0, benchOptionSize)
		if err != nil {
			for _, d := range cs {
				d.Close()
			}
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func atoi(fields []string, i int) int {
	if i >= len(fields) {
		return -1
	}
	v, err := strconv.Atoi(fields[i])
	if err != nil {
		return -1
	}
	return v
}

func runBench(addr string) {
	one, err := dial(addr, 0, benchOptionSize)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var spread, idle []*Client
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		atomic.StoreInt64(&checkFailed, 0)
		var calls int64
		var secs, p50 float64
		switch {
		case f[0] == "seq" && atoi(f, 1) >= 0 && atoi(f, 2) > 0:
			calls, secs, p50 = run(1, time.Duration(atoi(f, 2))*time.Millisecond, payloadOf(atoi(f, 1)),
				func(g, i int) *Client { return one })
		case f[0] == "conc" && atoi(f, 1) > 0 && atoi(f, 2) >= 0 && atoi(f, 3) > 0:
			calls, secs, p50 = run(atoi(f, 1), time.Duration(atoi(f, 3))*time.Millisecond, payloadOf(atoi(f, 2)),
				func(g, i int) *Client { return one })
		case f[0] == "conns" && atoi(f, 1) > 0 && atoi(f, 2) > 0 && atoi(f, 3) > 0:
			n, callers := atoi(f, 1), atoi(f, 2)
			if len(spread) != n {
				for _, c := range spread {
					c.Close()
				}
				if spread, err = dialMany(addr, n); err != nil {
					fmt.Println("error", err)
					continue
				}
			}
			// Goroutine g takes connections g, g+callers, g+2*callers...
			per := (n + callers - 1) / callers
			calls, secs, p50 = run(callers, time.Duration(atoi(f, 3))*time.Millisecond, "",
				func(g, i int) *Client { return spread[(g+callers*(i%per))%n] })
		case f[0] == "idle" && atoi(f, 1) > 0:
			more, err := dialMany(addr, atoi(f, 1))
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			for i, c := range more {
				oneCall(c, i, "")
			}
			idle = append(idle, more...)
			calls = int64(len(more))
		case f[0] == "close":
			for _, c := range idle {
				c.Close()
			}
			idle = nil
		default:
			fmt.Println("error unknown workload:", in.Text())
			continue
		}
		if n := atomic.LoadInt64(&checkFailed); n > 0 {
			fmt.Printf("error %d calls failed or mismatched\n", n)
			continue
		}
		fmt.Printf("ok calls=%d secs=%.6f p50_us=%.1f\n", calls, secs, p50)
	}
}

// ---- the registry ----------------------------------------------------------

type registry struct {
	timeout time.Duration
	mu      sync.Mutex
	servers map[string]time.Time
}

func (r *registry) alive() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var list []string
	for addr, start := range r.servers {
		if r.timeout == 0 || start.Add(r.timeout).After(time.Now()) {
			list = append(list, addr)
		} else {
			delete(r.servers, addr)
		}
	}
	sort.Strings(list)
	return list
}

func (r *registry) put(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.servers[addr] = time.Now()
}

func (r *registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case "GET":
		w.Header().Set("X-Geerpc-Servers", strings.Join(r.alive(), ","))
	case "POST":
		addr := req.Header.Get("X-Geerpc-Server")
		if addr == "" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		r.put(addr)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func serveRegistry() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.Handle("/_geerpc_/registry", &registry{timeout: 5 * time.Minute, servers: map[string]time.Time{}})
	fmt.Printf("registry on http://%s/_geerpc_/registry\n", l.Addr())
	fmt.Println(http.Serve(l, mux))
}

// ---- the round trip ------------------------------------------------------

// Types of the table.
type Inner struct {
	A int
	B string
}

type All struct {
	I   int
	I8  int8
	I64 int64
	U   uint
	U8  uint8
	U64 uint64
	F32 float32
	F64 float64
	B   bool
	S   string
	Bs  []byte
	In  Inner
	P   *Inner
	Sl  []Inner
	Ar  [3]int
	M   map[string]int
	MI  map[int]string
	E   []int
	Z   int
}

type Tree struct {
	V    int
	Kids []*Tree
	Next *Tree
}

type WithIface struct {
	X interface{}
	Y interface{}
	L []interface{}
}

// expectJSON is docs/PROTOCOL.md's mapping, written again from the table:
// what geerpc's decoder must make of v.
func expectJSON(v reflect.Value) interface{} {
	if t, ok := v.Interface().(time.Time); ok {
		b, _ := t.GobEncode()
		return replaceInvalid(string(b))
	}
	switch v.Kind() {
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return json.Number(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.String:
		return replaceInvalid(v.String())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return replaceInvalid(string(v.Bytes()))
		}
		fallthrough
	case reflect.Array:
		list := []interface{}{}
		for i := 0; i < v.Len(); i++ {
			list = append(list, expectJSON(v.Index(i)))
		}
		return list
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		obj := map[string]interface{}{}
		for _, k := range v.MapKeys() {
			obj[fmt.Sprint(expectJSONKey(k))] = expectJSON(v.MapIndex(k))
		}
		return obj
	case reflect.Struct:
		obj := map[string]interface{}{}
		for i := 0; i < v.NumField(); i++ {
			obj[v.Type().Field(i).Name] = expectJSON(v.Field(i))
		}
		return obj
	case reflect.Ptr, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return expectJSON(v.Elem())
	}
	panic("no mapping for " + v.Type().String())
}

func expectJSONKey(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return replaceInvalid(k.String())
	}
	return string(expectJSON(k).(json.Number))
}

// replaceInvalid is what writing JSON does to bytes that are not UTF-8:
// each becomes U+FFFD.
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// sameJSON compares a JSON tree with the expected one; numbers by value.
func sameJSON(want, got interface{}) bool {
	switch w := want.(type) {
	case json.Number:
		g, ok := got.(json.Number)
		return ok && string(g) == string(w)
	case float64:
		g, ok := got.(json.Number)
		if !ok {
			return false
		}
		f, err := strconv.ParseFloat(string(g), 64)
		return err == nil && f == w
	case []interface{}:
		g, ok := got.([]interface{})
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameJSON(w[i], g[i]) {
				return false
			}
		}
		return true
	case map[string]interface{}:
		g, ok := got.(map[string]interface{})
		if !ok || len(g) != len(w) {
			return false
		}
		for k := range w {
			if _, ok := g[k]; !ok || !sameJSON(w[k], g[k]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, got)
	}
}

// goRoundTrip is what Go itself makes of v through gob: the reference.
func goRoundTrip(v interface{}) interface{} {
	pr, pw := io.Pipe()
	go func() {
		gob.NewEncoder(pw).Encode(v)
	}()
	out := reflect.New(reflect.TypeOf(v))
	if err := gob.NewDecoder(pr).Decode(out.Interface()); err != nil {
		panic(err)
	}
	return out.Elem().Interface()
}

func roundtripCases() []interface{} {
	full := All{
		I: math.MinInt64, I8: -128, I64: math.MaxInt64, U: 7, U8: 255, U64: math.MaxInt64,
		F32: -1.5, F64: math.SmallestNonzeroFloat64, B: true, S: "é\x00\xff", Bs: []byte{0, 0xff, 'x'},
		In: Inner{A: -1}, P: &Inner{B: "p"}, Sl: []Inner{{1, "a"}, {}, {A: 2}}, Ar: [3]int{1, 0, -1},
		M: map[string]int{"a": 1, "": 0, "\xfe": -3}, MI: map[int]string{-5: "x", 7: ""}, E: []int{}, Z: 0,
	}
	deep := &Tree{V: 1}
	for i, t := 0, deep; i < 40; i++ {
		t.Next = &Tree{V: i}
		t = t.Next
	}
	return []interface{}{
		0, 1, -1, math.MaxInt64, math.MinInt64, int8(-128), int16(32767), uint64(math.MaxInt64), uint(0), uint8(200),
		0.0, -0.25, 17.0, math.MaxFloat64, -math.SmallestNonzeroFloat64, float32(3.25), 1e300,
		true, false, "", "plain", "nul\x00inside", "bad \xff\xfe utf-8", "ünïcödé ✓",
		[]byte{}, []byte{0, 1, 0xff}, []int{}, []int{1, -2, 3}, []string{"x", "", "\x00"}, [2]bool{true, false},
		[0]int{}, [][]int{{1}, {}, {2, 3}}, []float64{0, 1.5, -2},
		map[string]int{"a": 1, "b": -2}, map[string]int{}, map[int]string{-5: "x", 7: ""},
		map[uint8]bool{255: true, 0: false}, map[string][]Inner{"k": {{A: 1}}, "e": nil},
		Inner{}, Inner{A: -1, B: "é"}, full, All{}, []Inner{{1, "x"}, {}}, []All{{}, full},
		*deep, Tree{V: 1, Kids: []*Tree{{V: 2}, {V: 3, Kids: []*Tree{{V: 4}}}}},
		time.Unix(1700000000, 123).UTC(), Args{3, 4}, Args{},
	}
}

// Values with interfaces in them: decoded only (JSON has no way to say a
// concrete type, so they cannot be sent back).
func decodeCases() []interface{} {
	return []interface{}{
		WithIface{}, WithIface{X: Inner{A: 1}, Y: 7, L: []interface{}{"s", Inner{B: "x"}, 2.5, nil}},
		WithIface{X: []interface{}{Inner{A: 2}, map[string]int{"k": 1}}},
	}
}

type inferCase struct {
	json   string
	target interface{} // a pointer to the Go type the value is decoded into
	want   interface{}
	err    string // when encoding must fail
}

type Plain struct {
	A int
	B string
	C bool
	D float64
	E []int
	F Inner
	G *Inner
}

func inferCases() []inferCase {
	return []inferCase{
		{json: `{"Num1":3,"Num2":4}`, target: &Args{}, want: Args{3, 4}},
		{json: `{"Num2":4,"Num1":-3}`, target: &Args{}, want: Args{-3, 4}},
		{json: `{"A":1,"B":"x","C":true,"D":2.5,"E":[1,2],"F":{"A":5},"G":null}`, target: &Plain{},
			want: Plain{A: 1, B: "x", C: true, D: 2.5, E: []int{1, 2}, F: Inner{A: 5}}},
		{json: `{"A":0,"B":"","C":false,"D":0.0,"E":[]}`, target: &Plain{}, want: Plain{}},
		{json: `{"G":{"B":"g"},"D":3.0}`, target: &Plain{}, want: Plain{D: 3, G: &Inner{B: "g"}}},
		{json: `[1,2.5]`, target: &[]float64{}, want: []float64{1, 2.5}},
		{json: `[{"A":1},{"B":"x"}]`, target: &[]Inner{}, want: []Inner{{A: 1}, {B: "x"}}},
		{json: `[[1],[],[2,3]]`, target: &[][]int{}, want: [][]int{{1}, nil, {2, 3}}},
		{json: `"s\u0000"`, target: new(string), want: "s\x00"},
		{json: `-5`, target: new(int), want: -5},
		{json: `-5`, target: new(int8), want: int8(-5)},
		{json: `1.5`, target: new(float64), want: 1.5},
		{json: `true`, target: new(bool), want: true},
		{json: `[]`, target: &[]interface{}{}, want: []interface{}{}},
		{json: `{}`, target: &Args{}, want: Args{}},
		{json: `null`, target: &Args{}, want: Args{}},
		{json: `{"num1":1}`, err: `key "num1" is not an exported Go identifier`},
		{json: `[1,"a"]`, err: "an array mixes numbers and strings"},
		{json: `[1,null]`, err: "null at index 1"},
		{json: `{"A":[{"B":1},{"B":[1]}]}`, err: "an array mixes numbers and arrays"},
	}
}

type echo struct {
	enc *gob.Encoder
	dec *gob.Decoder
}

func (e *echo) send(mode string, v interface{}) {
	if err := e.enc.Encode(mode); err != nil {
		panic(err)
	}
	if err := e.enc.Encode(v); err != nil {
		panic(err)
	}
}

func (e *echo) text() string {
	var s string
	if err := e.dec.Decode(&s); err != nil {
		panic(err)
	}
	return s
}

func runRoundtrip(program string) {
	cmd := exec.Command(program)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
	e := &echo{gob.NewEncoder(stdin), gob.NewDecoder(bufio.NewReader(stdout))}

	check1 := func(v interface{}, text string) {
		var got interface{}
		d := json.NewDecoder(strings.NewReader(text))
		d.UseNumber()
		err := d.Decode(&got)
		want := expectJSON(reflect.ValueOf(v))
		check(err == nil && sameJSON(want, got), "%T %#v: our JSON %s, want %v", v, v, text, want)
	}
	n := 0
	for _, v := range roundtripCases() {
		e.send("echo", v)
		check1(v, e.text())
		back := reflect.New(reflect.TypeOf(v))
		err := e.dec.Decode(back.Interface())
		want := goRoundTrip(v)
		check(err == nil && reflect.DeepEqual(back.Elem().Interface(), want),
			"%T: sent %#v, got back %#v (%v), want %#v", v, v, back.Elem().Interface(), err, want)
		n++
	}
	for _, v := range decodeCases() {
		e.send("json", v)
		check1(v, e.text())
		n++
	}
	// No JSON form: that value is refused, the stream goes on.
	for _, v := range []interface{}{uint64(math.MaxUint64), math.NaN(), math.Inf(-1), complex(1, 2),
		map[float64]int{1.5: 1}} {
		e.send("json", v)
		text := e.text()
		check(strings.HasPrefix(text, "ERROR: gob: "), "%T %v: %q, want an error", v, v, text)
		n++
	}
	for _, c := range inferCases() {
		e.send("infer", c.json)
		status := e.text()
		if c.err != "" {
			check(strings.Contains(status, c.err), "infer %s: %q, want %q", c.json, status, c.err)
			e.dec.Decode(nil)
			n++
			continue
		}
		check(status == "ok", "infer %s: %s", c.json, status)
		err := e.dec.Decode(c.target)
		got := reflect.ValueOf(c.target).Elem().Interface()
		check(err == nil && reflect.DeepEqual(got, c.want), "infer %s: got %#v (%v), want %#v", c.json, got, err, c.want)
		n++
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		check(false, "echo: %v", err)
	}
	fmt.Printf("roundtrip %d cases\n", n)
	finish("roundtrip")
}

func main() {
	log.SetFlags(0)
	gob.Register(Inner{})
	gob.Register([]interface{}{})
	gob.Register(map[string]int{})
	arg := func(i int) string {
		if i < len(os.Args) {
			return os.Args[i]
		}
		return ""
	}
	switch {
	case arg(1) == "client" && arg(2) != "":
		runClient(arg(2))
	case arg(1) == "server":
		runServer(arg(2))
	case arg(1) == "roundtrip" && arg(2) != "":
		runRoundtrip(arg(2))
	case arg(1) == "bench" && arg(2) != "":
		runBench(arg(2))
	case arg(1) == "registry":
		serveRegistry()
	default:
		fmt.Fprintln(os.Stderr, "usage: gob-peer client ADDR | server [REGISTRY_URL] | roundtrip ECHO | bench ADDR | registry")
		os.Exit(2)
	}
}
