package store

import (
	"sync"
	"time"
)

// planMemoTTL is how long a listing's planning choice is remembered.
const planMemoTTL = 30 * time.Second

// planMemoMax bounds the choices remembered; past it the memo starts over.
const planMemoMax = 4096

// planMemo remembers, for planMemoTTL, the choices that plan a listing but
// never change its result: which tag filter is the rarest and whether a
// tag's index is cheaper to read than a scope. Each costs a query, and a
// person paging through a filtered inventory asks the same again and
// again: without the memo a listing by two tags made two queries, not one.
// The rows listed are always read afresh.
type planMemo struct {
	mu sync.Mutex
	m  map[string]planChoice
}

type planChoice struct {
	value any
	until time.Time
}

func (p *planMemo) get(key string, now time.Time) (any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.m[key]
	if !ok || now.After(c.until) {
		return nil, false
	}
	return c.value, true
}

func (p *planMemo) put(key string, value any, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) >= planMemoMax {
		p.m = make(map[string]planChoice)
	}
	p.m[key] = planChoice{value: value, until: now.Add(planMemoTTL)}
}
