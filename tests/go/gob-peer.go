// SPDX-License-Identifier: MIT

// gob-peer speaks GeeRPC as Go GeeRPC does with its default codec: the
// Option as JSON (json.Encoder), then per message a gob header
// {ServiceMethod string; Seq uint64; Error string} and a gob body, one
// gob stream per direction of the connection. Written for geerpc's tests
// from the documentation of encoding/gob, encoding/json and net, with the
// standard library only (the tests have no network).
//
//	gob-peer client ADDR             call geerpc-example's Foo at ADDR as Go
//	                                 GeeRPC's client does, checking every reply
//	gob-peer server [REGISTRY_URL]   serve Foo.Sum and Foo.Sleep as Go GeeRPC's
//	                                 server does (and Foo.Text: a string that
//	                                 is not UTF-8), on 127.0.0.1:0; print
//	                                 "serving on tcp@HOST:PORT"; heartbeat
//	gob-peer roundtrip ECHO          the round-trip table through ECHO
//	                                 (tests/integration/gob-echo.c)
//
// Each prints "... ok" and exits 0 when every check passed, or says what
// failed and exits 1.
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
	"strconv"
	"strings"
	"sync"
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

// ---- the client ----------------------------------------------------------

type call struct {
	reply interface{}
	err   error
	done  chan struct{}
}

// Client is one connection; calls may run concurrently and are matched to
// replies by Seq.
type Client struct {
	conn    net.Conn
	buf     *bufio.Writer
	enc     *gob.Encoder
	dec     *gob.Decoder
	wmu     sync.Mutex
	mu      sync.Mutex
	seq     uint64
	pending map[uint64]*call
	broken  error
}

func tcpAddr(addr string) string {
	return strings.TrimPrefix(addr, "tcp@")
}

func dial(addr string, handleTimeout time.Duration) (*Client, error) {
	conn, err := net.DialTimeout("tcp", tcpAddr(addr), 10*time.Second)
	if err != nil {
		return nil, err
	}
	opt := Option{magicNumber, "application/gob", 10 * time.Second, handleTimeout}
	if err := json.NewEncoder(conn).Encode(&opt); err != nil {
		conn.Close()
		return nil, err
	}
	c := &Client{conn: conn, buf: bufio.NewWriter(conn), dec: gob.NewDecoder(conn), pending: map[uint64]*call{}}
	c.enc = gob.NewEncoder(c.buf)
	go c.receive()
	return c, nil
}

func (c *Client) receive() {
	var err error
	for err == nil {
		var h Header
		if err = c.dec.Decode(&h); err != nil {
			break
		}
		c.mu.Lock()
		cl := c.pending[h.Seq]
		delete(c.pending, h.Seq)
		c.mu.Unlock()
		switch {
		case cl == nil:
			err = c.dec.Decode(nil)
		case h.Error != "":
			cl.err = errors.New(h.Error)
			err = c.dec.Decode(nil)
			close(cl.done)
		default:
			if err = c.dec.Decode(cl.reply); err != nil {
				cl.err = errors.New("reading body " + err.Error())
			}
			close(cl.done)
		}
	}
	c.mu.Lock()
	c.broken = err
	for seq, cl := range c.pending {
		cl.err = err
		close(cl.done)
		delete(c.pending, seq)
	}
	c.mu.Unlock()
}

// Call sends one request and waits for its reply.
func (c *Client) Call(method string, args, reply interface{}) error {
	cl := &call{reply: reply, done: make(chan struct{})}
	c.mu.Lock()
	if c.broken != nil {
		c.mu.Unlock()
		return c.broken
	}
	c.seq++
	seq := c.seq
	c.pending[seq] = cl
	c.mu.Unlock()

	c.wmu.Lock()
	err := c.enc.Encode(&Header{ServiceMethod: method, Seq: seq})
	if err == nil {
		err = c.enc.Encode(args)
	}
	if err == nil {
		err = c.buf.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-cl.done:
		return cl.err
	case <-time.After(60 * time.Second):
		return errors.New("no reply within 60s")
	}
}

func runClient(addr string) {
	c, err := dial(addr, time.Second)
	if err != nil {
		fmt.Println("FAIL: dial:", err)
		os.Exit(1)
	}
	sum := func(a, b int) (int, error) {
		var r int
		err := c.Call("Foo.Sum", &Args{a, b}, &r)
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
	err = c.Call("Foo.Sleep", &Args{Num1: 2}, &s)
	check(err != nil && err.Error() == "rpc server: request handle timeout: expect within 1s",
		"Foo.Sleep past the handle timeout: %v", err)
	err = c.Call("Foo.Sleep", &Args{0, 4}, &s)
	check(err == nil && s == 4, "Foo.Sleep within the handle timeout: %d %v", s, err)

	for _, t := range []struct{ method, want string }{
		{"Foo.Nope", "rpc server: can't find method Nope"},
		{"Bar.Sum", "rpc server: can't find service Bar"},
		{"FooSum", "rpc server: service/method request ill-formed: FooSum"},
	} {
		err = c.Call(t.method, &Args{1, 2}, &s)
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
	c.conn.Close()
	if bad == 0 {
		fmt.Printf("concurrent %d ok\n", n)
	}

	// A reply that does not fit the reply type fails that call (and, as
	// with Go's own client, leaves the gob stream unusable).
	c, err = dial(addr, 0)
	if err == nil {
		var text string
		err = c.Call("Foo.Sum", &Args{1, 1}, &text)
		check(err != nil && err.Error() == "reading body gob: decoding into local type *string, received remote type int",
			"int reply into a string: %v", err)
		c.conn.Close()
	}
	finish("client")
}

// ---- the server ------------------------------------------------------------

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

// serveConn follows Go GeeRPC's server: the Option through a JSON decoder
// on the connection (which may read ahead: what it read past the Option is
// lost), then gob on the connection itself.
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
	buf := bufio.NewWriter(conn)
	enc := gob.NewEncoder(buf)
	dec := gob.NewDecoder(conn)
	var wmu sync.Mutex
	send := func(h Header, body interface{}) {
		wmu.Lock()
		defer wmu.Unlock()
		if err := enc.Encode(&h); err == nil && enc.Encode(body) == nil {
			buf.Flush()
		}
	}
	var wg sync.WaitGroup
	for {
		var h Header
		if err := dec.Decode(&h); err != nil {
			if err != io.EOF {
				log.Println("rpc server: read header error:", err)
			}
			break
		}
		dot := strings.LastIndex(h.ServiceMethod, ".")
		service, method := "", ""
		if dot >= 0 {
			service, method = h.ServiceMethod[:dot], h.ServiceMethod[dot+1:]
		}
		// As the original: the body of a request it cannot route is not read.
		switch {
		case dot < 0:
			h.Error = "rpc server: service/method request ill-formed: " + h.ServiceMethod
		case service != "Foo":
			h.Error = "rpc server: can't find service " + service
		case method != "Sum" && method != "Sleep" && method != "Text":
			h.Error = "rpc server: can't find method " + method
		}
		if h.Error != "" {
			send(h, struct{}{})
			continue
		}
		var args Args
		if err := dec.Decode(&args); err != nil {
			h.Error = "rpc server: read argv err: " + err.Error()
			send(h, struct{}{})
			continue
		}
		wg.Add(1)
		go func(h Header, args Args) {
			defer wg.Done()
			done := make(chan interface{}, 1)
			go func() {
				switch method {
				case "Sleep":
					time.Sleep(time.Duration(args.Num1) * time.Second)
				case "Text":
					done <- "ok \xff\x00"
					return
				}
				done <- args.Num1 + args.Num2
			}()
			if opt.HandleTimeout == 0 {
				send(h, <-done)
				return
			}
			select {
			case reply := <-done:
				send(h, reply)
			case <-time.After(opt.HandleTimeout):
				h.Error = fmt.Sprintf("rpc server: request handle timeout: expect within %s", opt.HandleTimeout)
				send(h, struct{}{})
			}
		}(h, args)
	}
	wg.Wait()
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
			return
		}
		go serveConn(conn)
	}
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
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gob-peer client ADDR | server [REGISTRY_URL] | roundtrip ECHO")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "client":
		runClient(os.Args[2])
	case "server":
		registry := ""
		if len(os.Args) > 2 {
			registry = os.Args[2]
		}
		runServer(registry)
	case "roundtrip":
		runRoundtrip(os.Args[2])
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}
