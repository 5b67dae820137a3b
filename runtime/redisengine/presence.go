package redisengine

import (
	"context"
	"errors"
	"fmt"
)

// Presence: a hash per group, key → holder.

func (e *Engine) groupKey(group string) string { return e.opts.Prefix + ":p:" + group }

// Claim implements runtime.Engine: duplex_claim, HSETNX and the holder
// that beat it in one step.
func (e *Engine) Claim(ctx context.Context, group, key, owner string) (string, bool, error) {
	if owner == "" {
		return "", false, errors.New("redisengine: claim: empty owner")
	}
	if err := e.check(ctx, false); err != nil {
		return "", false, err
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	a, err := e.fcall(ctx, "duplex_claim", []string{e.groupKey(group)}, key, owner).ToArray()
	if err == nil && len(a) != 2 {
		err = fmt.Errorf("reply of %d elements", len(a))
	}
	if err != nil {
		return "", false, fmt.Errorf("redisengine: claim %q in %q: %w", key, group, err)
	}
	holder, _ := a[0].ToString()
	won, _ := a[1].AsInt64()
	return holder, won == 1, nil
}

// Release implements runtime.Engine: duplex_release, compare and delete.
func (e *Engine) Release(ctx context.Context, group, key, owner string) (bool, error) {
	if err := e.check(ctx, false); err != nil {
		return false, err
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	n, err := e.fcall(ctx, "duplex_release", []string{e.groupKey(group)}, key, owner).AsInt64()
	if err != nil {
		return false, fmt.Errorf("redisengine: release %q in %q: %w", key, group, err)
	}
	return n == 1, nil
}

// Members implements runtime.Engine: HGETALL.
func (e *Engine) Members(ctx context.Context, group string) (map[string]string, error) {
	if err := e.check(ctx, false); err != nil {
		return nil, err
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	m, err := e.c.Do(ctx, e.c.B().Hgetall().Key(e.groupKey(group)).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("redisengine: members of %q: %w", group, err)
	}
	return m, nil
}
