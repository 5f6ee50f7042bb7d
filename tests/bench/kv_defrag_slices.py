# SPDX-License-Identifier: MIT
"""Where the time of kvcore-server's defrag slices goes, from a system-wide perf trace.

  kv_defrag_slices.py SCRIPT TID [TOP]

SCRIPT is `perf script -F comm,tid,cpu,time,event,trace` output of a recording with
uprobes named GROUP:slice / GROUP:slice__return on the server's timer_trampoline (one
defrag slice each), optional GROUP:<fn> / GROUP:<fn>__return pairs on functions called
inside slices, and the tracepoints irq:*, irq_vectors:*_entry/_exit, sched:sched_switch,
exceptions:page_fault_user and (optionally) raw_syscalls:sys_enter/sys_exit. TID is the
server's main thread.

Per slice: wall time; on-CPU time (wall less the spans the thread was switched out);
interrupt time (outermost hard and soft interrupt handlers that ran in the thread's
context, which this kernel charges to the thread's CPU clock); own time (on-CPU less
interrupts); page faults; syscalls; and the durations of the probed functions. Prints
the distribution of the three times, the distribution of each probed function's calls
(a step whose usual cost is tens of microseconds and whose tail jumps to milliseconds
without interrupts, faults or switches was stopped from outside), and the TOP slices
with the most on-CPU time.
A vCPU stopped by the hypervisor is neither switched out nor interrupted in the guest:
such time shows as the slice's own.
"""
import re
import sys

LINE = re.compile(r'^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+([\w:]+):\s*(.*)$')
SWITCH = re.compile(r'prev_pid=(\d+).*next_pid=(\d+)')


def new_slice(t):
    return {'start': t, 'off': 0.0, 'irq': 0.0, 'nirq': 0, 'kinds': {}, 'open': {},
            'sub': [], 'pf': 0, 'sys': {}, 'sys_open': None, 'depth': 0,
            'irq_start': None, 'off_start': None}


def parse(path, tid):
    slices, cur = [], None
    for line in open(path, errors='replace'):
        m = LINE.match(line)
        if not m:
            continue
        ltid, t, ev, fields = int(m.group(2)), float(m.group(4)) * 1e6, m.group(5), m.group(6)
        group, _, name = ev.partition(':')
        if name == 'slice' and ltid == tid:
            cur = new_slice(t)
            continue
        if name == 'slice__return' and ltid == tid:
            if cur is not None:
                cur['wall'] = t - cur['start']
                slices.append(cur)
            cur = None
            continue
        if cur is None:
            continue
        if ev == 'sched:sched_switch':
            s = SWITCH.search(fields)
            if s and int(s.group(1)) == tid:
                cur['off_start'] = t
            elif s and int(s.group(2)) == tid and cur['off_start'] is not None:
                cur['off'] += t - cur['off_start']
                cur['off_start'] = None
            continue
        if ltid != tid:
            continue
        if ev == 'exceptions:page_fault_user':
            cur['pf'] += 1
        elif ev == 'raw_syscalls:sys_enter':
            nr = re.search(r'NR (\d+)', fields)
            cur['sys_open'] = (t, nr.group(1) if nr else '?')
        elif ev == 'raw_syscalls:sys_exit':
            if cur['sys_open'] is not None:
                st, nr = cur['sys_open']
                cur['sys'][nr] = cur['sys'].get(nr, 0.0) + t - st
                cur['sys_open'] = None
        elif group in ('irq', 'irq_vectors') and ev.endswith('_entry'):
            if cur['depth'] == 0:
                action = fields.split('action=')[-1].strip(']') if 'action=' in fields else ''
                cur['irq_start'] = (t, (name + ' ' + action).strip())
            cur['depth'] += 1
        elif group in ('irq', 'irq_vectors') and ev.endswith('_exit'):
            if cur['depth'] > 0:
                cur['depth'] -= 1
                if cur['depth'] == 0 and cur['irq_start'] is not None:
                    st, kind = cur['irq_start']
                    cur['irq'] += t - st
                    cur['nirq'] += 1
                    cur['kinds'][kind] = cur['kinds'].get(kind, 0.0) + t - st
                    cur['irq_start'] = None
        elif name.endswith('__return'):
            fn = name[:-len('__return')]
            if fn in cur['open']:
                cur['sub'].append((fn, t - cur['open'].pop(fn)))
        elif group not in ('irq', 'irq_vectors', 'sched', 'exceptions', 'raw_syscalls'):
            cur['open'][name] = t
    for s in slices:
        s['oncpu'] = s['wall'] - s['off']
        s['own'] = s['oncpu'] - s['irq']
    return slices


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    slices = parse(sys.argv[1], int(sys.argv[2]))
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    n = len(slices)
    print("slices traced: %d" % n)
    if n == 0:
        return
    for key, what in (('wall', 'wall'), ('oncpu', 'on CPU'), ('own', 'own (on CPU less interrupts)')):
        v = sorted(s[key] for s in slices)
        print("  %-30s max %6.0f us  p99.9 %6.0f  p99 %6.0f  over 1 ms: %d" %
              (what, v[-1], v[min(n - 1, int(n * 0.999))], v[min(n - 1, int(n * 0.99))],
               sum(1 for x in v if x > 1000)))
    calls = {}
    for s in slices:
        for fn, d in s['sub']:
            calls.setdefault(fn, []).append(d)
    if calls:
        print("probed calls inside slices (us):")
    for fn, v in sorted(calls.items()):
        v.sort()
        c = len(v)
        print("  %-24s %8d calls  p50 %5.0f  p99 %5.0f  p99.9 %5.0f  p99.99 %5.0f  max %5.0f"
              "  over 0.5 ms: %d" % (fn, c, v[c // 2], v[min(c - 1, int(c * 0.99))],
                                    v[min(c - 1, int(c * 0.999))], v[min(c - 1, int(c * 0.9999))],
                                    v[-1], sum(1 for x in v if x > 500)))
    print("the %d slices with the most time on CPU:" % min(top, n))
    for s in sorted(slices, key=lambda s: -s['oncpu'])[:top]:
        kinds = ', '.join('%s %.0f' % kv for kv in sorted(s['kinds'].items(), key=lambda kv: -kv[1])[:3])
        subs = ', '.join('%s %.0f' % fd for fd in sorted(s['sub'], key=lambda fd: -fd[1])[:4])
        sysc = ' '.join('nr%s %.0f' % kv for kv in sorted(s['sys'].items(), key=lambda kv: -kv[1])[:3])
        print("  on CPU %5.0f us (wall %5.0f): interrupts %4.0f us in %d%s; own %5.0f; page faults %d%s"
              % (s['oncpu'], s['wall'], s['irq'], s['nirq'], ' (' + kinds + ')' if kinds else '',
                 s['own'], s['pf'], '; syscalls ' + sysc if sysc else ''))
        if subs:
            print("      longest calls (us): " + subs)


if __name__ == '__main__':
    main()
