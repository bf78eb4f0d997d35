package usercache

import (
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	now := time.Now()
	c := New[string, int](3)
	c.Put("a", "alice", 1, now.Add(time.Minute), now)
	c.Put("b", "alice", 2, now.Add(time.Minute), now)
	c.Put("c", "bob", 3, now.Add(time.Second), now)
	c.Put("never", "bob", 4, now, now) // already expired: not kept
	if v, ok := c.Get("a", now); !ok || v != 1 {
		t.Fatalf("a = %v %v", v, ok)
	}
	if _, ok := c.Get("never", now); ok {
		t.Fatal("an expired entry was kept")
	}
	if _, ok := c.Get("c", now.Add(2*time.Second)); ok {
		t.Fatal("c outlived its expiry")
	}
	c.Forget("alice")
	if _, ok := c.Get("a", now); ok {
		t.Fatal("alice's entries survived Forget")
	}
	if _, ok := c.Get("c", now); !ok {
		t.Fatal("bob's entry went with alice's")
	}
	c.Put("d", "dave", 5, now.Add(time.Minute), now)
	c.Put("e", "erin", 6, now.Add(time.Minute), now)
	c.Put("f", "fay", 7, now.Add(time.Minute), now) // past max: starts over
	if _, ok := c.Get("c", now); ok {
		t.Fatal("the cache grew past its bound")
	}
	if v, ok := c.Get("f", now); !ok || v != 7 {
		t.Fatal("the newest entry is kept")
	}
	c.Clear()
	if _, ok := c.Get("f", now); ok {
		t.Fatal("Clear kept an entry")
	}
}

func TestRemove(t *testing.T) {
	c := New[string, int](10)
	now := time.Now()
	c.Put("a", "alice", 1, now.Add(time.Minute), now)
	c.Put("b", "alice", 2, now.Add(time.Minute), now)
	c.Remove("a")
	if _, ok := c.Get("a", now); ok {
		t.Fatal("removed, yet found")
	}
	if _, ok := c.Get("b", now); !ok {
		t.Fatal("only the one entry goes")
	}
	c.Forget("alice") // a removed key in the user's list is harmless
	if _, ok := c.Get("b", now); ok {
		t.Fatal("forgotten, yet found")
	}
}
