package consent

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeSlots allocates n slots outside the Go heap in memory the kernel may
// back with transparent huge pages: a table of tens of megabytes probed at
// random then costs far fewer page faults and TLB misses. Slots hold no
// pointers, so the garbage collector need not see them; the memory is
// returned when owner becomes unreachable. Small tables, or a failed
// mapping, use the Go heap.
func hugeSlots(n int, owner *idTable) []idSlot {
	size := n * int(unsafe.Sizeof(idSlot{}))
	if size < 4<<20 {
		return make([]idSlot, n)
	}
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return make([]idSlot, n)
	}
	unix.Madvise(mem, unix.MADV_HUGEPAGE)
	slots := unsafe.Slice((*idSlot)(unsafe.Pointer(&mem[0])), n)
	runtime.AddCleanup(owner, func(m []byte) { unix.Munmap(m) }, mem)
	return slots
}
