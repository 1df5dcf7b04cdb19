/*
 * LD_PRELOAD shim for Debian's linux.uml (6.1) on hosts whose XSAVE area is larger than UML's
 * buffer (e.g. Intel AMX: 11008 bytes against UML's 2696).
 *
 * UML saves and restores each guest process's FPU state with ptrace(PTRACE_GETREGSET /
 * PTRACE_SETREGSET, NT_X86_XSTATE) using a buffer sized for x87..AVX-512. GETREGSET truncates to
 * the buffer, but the host kernel (x86 xstateregs_set) refuses a SETREGSET whose length is not the
 * full user XSAVE size with EFAULT, and UML panics ("ptrace set fp regs failed, errno = 14").
 *
 * Fix: pad SETREGSET to the host's full size. The bytes past UML's buffer belong to components
 * (AMX tiles) that no guest process is permitted to use, so their xstate_bv bits in the header
 * (inside UML's part) are clear and the kernel initialises them instead of reading the padding.
 * Where the sizes already match, the call passes through unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

typedef long (*ptrace_fn)(int, int, void *, void *);

static __thread char *full_buf;
static __thread size_t full_len;

static ptrace_fn real_ptrace(void)
{
	static ptrace_fn real;
	if (!real)
		real = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	return real;
}

/* The host's full XSAVE size, learnt once from a GETREGSET with a generous buffer. */
static size_t host_xstate_len(int pid)
{
	if (!full_len) {
		char *probe = calloc(1, 65536);
		struct iovec iov = { probe, 65536 };
		if (probe && real_ptrace()(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) == 0) {
			full_buf = calloc(1, iov.iov_len);
			if (full_buf)
				full_len = iov.iov_len;
		}
		free(probe);
	}
	return full_len;
}

long ptrace(enum __ptrace_request request, ...)
{
	va_list ap;
	va_start(ap, request);
	int pid = va_arg(ap, int);
	void *addr = va_arg(ap, void *);
	void *data = va_arg(ap, void *);
	va_end(ap);

	if (request == PTRACE_SETREGSET && (long)addr == NT_X86_XSTATE && data) {
		struct iovec *iov = data;
		size_t full = host_xstate_len(pid);
		if (full > iov->iov_len) {
			struct iovec padded = { full_buf, full };
			memcpy(full_buf, iov->iov_base, iov->iov_len);
			return real_ptrace()(request, pid, addr, &padded);
		}
	}
	return real_ptrace()(request, pid, addr, data);
}
