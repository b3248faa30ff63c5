// A static Go program for the sandbox tests: the Go runtime's threads, futexes, signal
// handling (its own SIGURG preemption and SIGSEGV), epoll-based timers and netpoller, and
// os/exec's clone(CLONE_VFORK|CLONE_VM) + execve. The Rust test runs it in both classes and
// compares the output and exit status. Every line is deterministic; a check that fails
// prints "FAIL ..." instead of its value.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
)

func check(name string, ok bool, got interface{}) {
	if ok {
		fmt.Printf("%s=%v\n", name, got)
	} else {
		fmt.Printf("FAIL %s: got %v\n", name, got)
	}
}

// A pipeline of goroutines over channels.
func pipeline() {
	jobs := make(chan int)
	results := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- j * 2
			}
		}()
	}
	go func() {
		for i := 1; i <= 1000; i++ {
			jobs <- i
		}
		close(jobs)
	}()
	go func() { wg.Wait(); close(results) }()
	sum := 0
	for r := range results {
		sum += r
	}
	check("channels", sum == 1001000, sum)
}

// Goroutines on every P (OS threads in parallel) contending on one mutex.
func mutex() {
	var mu sync.Mutex
	count := 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20000; k++ {
				mu.Lock()
				count++
				mu.Unlock()
				if k%1000 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
	check("mutex", count == 160000, count)
}

// Timers: a one-shot timer, a ticker, time.After in a select, time.Sleep, and a timer that
// is stopped before it fires.
func timers() {
	start := time.Now()
	<-time.NewTimer(50 * time.Millisecond).C
	el := time.Since(start)
	check("timer", el >= 50*time.Millisecond && el < 2*time.Second, "50ms")
	tick := time.NewTicker(10 * time.Millisecond)
	n := 0
	for range tick.C {
		n++
		if n == 5 {
			break
		}
	}
	tick.Stop()
	check("ticker", n == 5, n)
	select {
	case <-time.After(20 * time.Millisecond):
		check("after", true, "fired")
	case <-time.After(5 * time.Second):
		check("after", false, "late")
	}
	stopped := time.AfterFunc(time.Hour, func() { fmt.Println("FAIL stopped timer fired") })
	check("stop", stopped.Stop(), true)
	start = time.Now()
	time.Sleep(30 * time.Millisecond)
	el = time.Since(start)
	check("sleep", el >= 30*time.Millisecond && el < 2*time.Second, "30ms")
}

// A signal to itself through os/signal, and a nil dereference recovered as a panic (the Go
// runtime's SIGSEGV handler).
func signals() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		check("kill", false, err)
	}
	select {
	case s := <-c:
		check("notify", s == syscall.SIGUSR1, s)
	case <-time.After(5 * time.Second):
		check("notify", false, "no signal")
	}
	signal.Stop(c)
	check("fault", recovered(), "recovered")
}

func recovered() (ok bool) {
	defer func() { ok = recover() != nil }()
	debug.SetPanicOnFault(true)
	var p *int
	fmt.Println(*p)
	return false
}

// A child process through os/exec, and a pipe written by a goroutine after a pause.
func processes() {
	out, err := exec.Command("/bin/echo", "from", "child").Output()
	check("exec", err == nil && string(out) == "from child\n", strings.TrimSpace(string(out)))
	err = exec.Command("/bin/sh", "-c", "exit 7").Run()
	code := -1
	if e, ok := err.(*exec.ExitError); ok {
		code = e.ExitCode()
	}
	check("exitcode", code == 7, code)
	r, w, err := os.Pipe()
	if err != nil {
		check("pipe", false, err)
		return
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		w.Write([]byte("piped"))
		w.Close()
	}()
	buf := make([]byte, 16)
	n, _ := r.Read(buf)
	check("pipe", string(buf[:n]) == "piped", string(buf[:n]))
}

func main() {
	pipeline()
	mutex()
	timers()
	signals()
	processes()
	fmt.Println("go: ok")
	os.Exit(3)
}
