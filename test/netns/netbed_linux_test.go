package netns

import (
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNetns runs f on an OS thread that has entered namespace ns. Sockets f
// opens stay in ns whichever thread later uses them. The thread is never
// returned to the scheduler (it ends with its goroutine), so no other
// goroutine runs in ns by accident.
func inNetns(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread exits with the goroutine
		fd, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer fd.Close()
		if err := unix.Setns(int(fd.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// udpIn opens a UDP socket on addr inside namespace ns.
func udpIn(ns, addr string) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := inNetns(ns, func() error {
		a, err := net.ResolveUDPAddr("udp4", addr)
		if err != nil {
			return err
		}
		c, err = net.ListenUDP("udp4", a)
		return err
	})
	return c, err
}

// openTun creates TUN device name (IP packets, no extra header) in
// namespace ns and returns its file; the device goes away when the file is
// closed.
func openTun(ns, name string) (*os.File, error) {
	var f *os.File
	err := inNetns(ns, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("opening /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("creating TUN device %s: %w", name, err)
		}
		f = os.NewFile(uintptr(fd), name) // non-blocking: reads go through the poller
		return nil
	})
	return f, err
}

// alive reports whether process pid runs.
func alive(pid int) bool { return unix.Kill(pid, 0) == nil }
