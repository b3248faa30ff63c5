// An HTTP server and its client in one static Go program, over 127.0.0.1: Go's netpoller (epoll,
// edge-triggered), non-blocking accept and connect, and its HTTP stack, for both classes.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s from %s\n", r.URL.Query().Get("name"), r.Method)
	})
	go http.Serve(ln, mux)
	for i, name := range []string{"one", "two", "three"} {
		resp, err := http.Get(fmt.Sprintf("http://%s/hello?name=%s", ln.Addr(), name))
		if err != nil {
			fmt.Println("get:", err)
			os.Exit(2)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %d %s", i, resp.StatusCode, body)
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/missing")
	if err == nil {
		fmt.Println("missing:", resp.StatusCode)
	}
	_, err = net.Dial("tcp", "127.0.0.1:1")
	fmt.Println("refused:", err != nil)
}
