// SPDX-License-Identifier: MIT

// geerpc-bench-peer is the Go side of geerpc-bench: a server, a client and a
// registry built the way Go GeeRPC (day 7) builds them, so that the
// benchmark can run the original's design side by side with geerpc on the
// same machine in the same run. Standard library only; written from the
// documentation of net, net/http, encoding/gob, encoding/json and reflect.
//
// What matters for performance is kept as the original has it:
//
//   - the server reads the Option as JSON, then gob messages (a header
//     {ServiceMethod, Seq, Error} and a body) through one gob.Decoder per
//     connection; every request is served on a goroutine of its own, which
//     runs the method through reflection on another goroutine and waits for
//     it on channels (the original's handle-timeout shape); replies are
//     written under the connection's sending mutex, gob into a
//     bufio.Writer flushed after each reply;
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
//     geerpc-bench-peer server    serve Foo.Sum and Echo.Echo on 127.0.0.1:0,
//     print "serving on tcp@HOST:PORT"
//     geerpc-bench-peer registry  serve /_geerpc_/registry on 127.0.0.1:0,
//     print "registry on http://HOST:PORT/_geerpc_/registry"
//     geerpc-bench-peer client ADDR
//     run the workloads read from standard input,
//     one per line, and print one result line each:
//     seq SIZE MS               one caller for MS milliseconds
//     conc CALLERS SIZE MS      CALLERS goroutines sharing one connection
//     conns N CALLERS MS        N connections (dialled once, kept), CALLERS
//     goroutines each taking the next connection
//     idle N                    N more connections, one call each, kept open
//     close                     close the idle connections
//     SIZE 0 calls Foo.Sum, otherwise Echo.Echo with
//     a string of SIZE bytes; every reply is checked.
//     A result is "ok calls=N secs=S p50_us=P" or
//     "error TEXT".
package main

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const magicNumber = 0x3bef5c

type Option struct {
	MagicNumber    int
	CodecType      string
	ConnectTimeout time.Duration
	HandleTimeout  time.Duration
}

type Header struct {
	ServiceMethod string
	Seq           uint64
	Error         string
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

type Args struct{ Num1, Num2 int }

type Foo int

func (f Foo) Sum(args Args, reply *int) error {
	*reply = args.Num1 + args.Num2
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

// The body of an error reply (gob cannot encode a struct without fields).
type invalid struct{ Invalid bool }

func readRequest(cc *gobCodec) (*request, error) {
	var h Header
	if err := cc.readHeader(&h); err != nil {
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
		return req, errors.New("rpc server: read body err: " + err.Error())
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
			sendResponse(cc, req.h, invalid{}, sending)
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
		req.h.Error = "rpc server: request handle timeout"
		sendResponse(cc, req.h, invalid{}, sending)
	case <-called:
		<-sent
	}
}

func serveConn(conn net.Conn) {
	defer conn.Close()
	dec := json.NewDecoder(conn)
	var opt Option
	if err := dec.Decode(&opt); err != nil || opt.MagicNumber != magicNumber || opt.CodecType != "application/gob" {
		return
	}
	// What the JSON decoder read past the Option (after the newline that
	// ends it) belongs to the gob stream.
	rest, _ := io.ReadAll(dec.Buffered())
	rest = bytes.TrimLeft(rest, " \t\r\n")
	cc := newGobCodec(conn, io.MultiReader(bytes.NewReader(rest), conn))
	sending, wg := new(sync.Mutex), new(sync.WaitGroup)
	for {
		req, err := readRequest(cc)
		if err != nil {
			if req == nil {
				break
			}
			req.h.Error = err.Error()
			sendResponse(cc, req.h, invalid{}, sending)
			continue
		}
		wg.Add(1)
		go handleRequest(cc, req, sending, wg, opt.HandleTimeout)
	}
	wg.Wait()
}

func serve() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Printf("serving on tcp@%s\n", l.Addr())
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

func dial(addr string) (*Client, error) {
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "tcp@"), 10*time.Second)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(conn).Encode(&Option{magicNumber, "application/gob", 10 * time.Second, 0}); err != nil {
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

func (c *Client) Call(serviceMethod string, args, reply interface{}) error {
	call := &Call{ServiceMethod: serviceMethod, Args: args, Reply: reply, Done: make(chan *Call, 1)}
	c.send(call)
	return (<-call.Done).Error
}

func (c *Client) Close() { c.cc.conn.Close() }

// ---- workloads -------------------------------------------------------------

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
		c, err := dial(addr)
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

func client(addr string) {
	one, err := dial(addr)
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

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "server":
		serve()
	case len(os.Args) == 2 && os.Args[1] == "registry":
		serveRegistry()
	case len(os.Args) == 3 && os.Args[1] == "client":
		client(os.Args[2])
	default:
		fmt.Fprintln(os.Stderr, "usage: geerpc-bench-peer server | registry | client ADDR")
		os.Exit(2)
	}
}
