package redisengine_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/duplexrpc/duplex/internal/redistest"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// BenchmarkPublish publishes 100-byte events on four topics through the
// engine (one FCALL each) from 1 and 16 goroutines.
func BenchmarkPublish(b *testing.B) {
	srv := redistest.Start(b)
	for _, workers := range []int{1, 16} {
		b.Run(strconv.Itoa(workers), func(b *testing.B) {
			e, err := redisengine.New(srv.URL(), redisengine.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			payload := make([]byte, 100)
			per := (b.N + workers - 1) / workers
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					topic := "t" + strconv.Itoa(w%4)
					for range per {
						if _, err := e.Publish(context.Background(), topic, payload); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
