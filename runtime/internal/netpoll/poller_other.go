//go:build !linux

package netpoll

// Poller is not supported on this system: [New] returns [ErrUnsupported].
type Poller struct{}

// New returns [ErrUnsupported] on this system.
func New() (*Poller, error) { return nil, ErrUnsupported }

// Add returns [ErrUnsupported].
func (p *Poller) Add(fd int, h Handler) error { return ErrUnsupported }

// Remove returns [ErrUnsupported].
func (p *Poller) Remove(fd int) error { return ErrUnsupported }

// Close does nothing.
func (p *Poller) Close() error { return nil }
