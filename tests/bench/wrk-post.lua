-- geerpc-bench: wrk sends POST heartbeats with an empty body; the address
-- comes with -H 'X-Geerpc-Server: ...'.
wrk.method = "POST"
wrk.body = ""
