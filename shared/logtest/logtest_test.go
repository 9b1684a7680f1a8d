package logtest

import (
	"strings"
	"sync"
	"testing"
)

func TestBufferKeepsEveryConcurrentWrite(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Write([]byte("x\n"))
			_ = b.String()
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "x\n"); got != 50 {
		t.Fatalf("kept %d of 50 writes", got)
	}
}
