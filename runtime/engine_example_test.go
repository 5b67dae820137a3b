package runtime_test

import (
	"context"
	"fmt"
	"log"

	"github.com/duplexrpc/duplex/runtime"
)

// printer is a node's Receiver that prints what it is delivered.
type printer string

func (p printer) Deliver(ev runtime.Event) {
	fmt.Printf("%s: %s #%d %s\n", p, ev.Topic, ev.Pos.GSeq, ev.Payload)
}

func (p printer) Lost(topics []string, err error) { fmt.Printf("%s: lost %v: %v\n", p, topics, err) }

// Two nodes on one in-memory engine, as two server processes on one Redis:
// a publish on one reaches the other, a resume reads the history, a name
// is claimed once.
func ExampleMemoryEngine() {
	ctx := context.Background()
	a := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	b := a.NewNode()
	for _, n := range []struct {
		e    *runtime.MemoryEngine
		name printer
	}{{a, "a"}, {b, "b"}} {
		if err := n.e.Start(ctx, n.name); err != nil {
			log.Fatal(err)
		}
		defer n.e.Close()
	}
	if err := b.Subscribe(ctx, "room"); err != nil {
		log.Fatal(err)
	}

	first, _ := a.Publish(ctx, "room", []byte("hello"))
	_, _ = a.Publish(ctx, "s:42", []byte("just for session 42"))
	_, _ = a.Publish(ctx, "room", []byte("bye"))

	// A session whose checkpoint is at the first event, resumed: its
	// topics' events after it, in order.
	missed, err := b.History(ctx, []string{"room", "s:42"}, first, 0, 0)
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range missed {
		fmt.Printf("missed: %s #%d %s\n", ev.Topic, ev.Pos.GSeq, ev.Payload)
	}

	_, won, _ := a.Claim(ctx, "online", "ada", "session-1")
	holder, won2, _ := b.Claim(ctx, "online", "ada", "session-2")
	fmt.Println("first claim won:", won, "second:", won2, "holder:", holder)
	// Output:
	// b: room #1 hello
	// b: room #3 bye
	// missed: s:42 #2 just for session 42
	// missed: room #3 bye
	// first claim won: true second: false holder: session-1
}
