package main

import (
	"os"
	"syscall"

	"github.com/prometheus/procfs"
)

// serverCPU is the CPU time of the Temporal server and, on the cluster, of PostgreSQL, over all
// phases; DB is -1 without PostgreSQL.
type serverCPU struct{ Server, DB float64 }

// cpuNow reads the servers' CPU times so far.
func (r *runner) cpuNow() serverCPU {
	c := serverCPU{Server: procCPUSeconds(r.dev.Pid()), DB: -1}
	if r.cluster != nil {
		c.DB = treeCPUSeconds(r.cluster.PG.Pid())
	}
	return c
}

func (c serverCPU) minus(o serverCPU) serverCPU {
	d := serverCPU{Server: c.Server - o.Server, DB: -1}
	if c.DB >= 0 && o.DB >= 0 {
		d.DB = c.DB - o.DB
	}
	return d
}

// rusage returns the CPU-seconds (user + system) and the peak RSS (MiB) of ended processes,
// each summed over them.
func rusage(states ...*os.ProcessState) (cpu, rssMiB float64) {
	for _, ps := range states {
		if ps == nil {
			continue
		}
		cpu += ps.UserTime().Seconds() + ps.SystemTime().Seconds()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			rssMiB += float64(ru.Maxrss) / 1024 // KiB on Linux
		}
	}
	return cpu, rssMiB
}

// procCPUSeconds is the CPU time (user + system) of a running process, 0 if unknown.
func procCPUSeconds(pid int) float64 {
	st, _, ok := procStat(pid)
	if !ok {
		return 0
	}
	return st.CPUTime()
}

// procStat reads a running process's /proc/PID/stat, with the filesystem it was read from;
// false if pid is 0 or unknown.
func procStat(pid int) (procfs.ProcStat, procfs.FS, bool) {
	if pid == 0 {
		return procfs.ProcStat{}, procfs.FS{}, false
	}
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return procfs.ProcStat{}, fs, false
	}
	p, err := fs.Proc(pid)
	if err != nil {
		return procfs.ProcStat{}, fs, false
	}
	st, err := p.Stat()
	return st, fs, err == nil
}

// treeCPUSeconds is the CPU time (user + system) of a running process and its children: its
// own, its live children's (theirs and their reaped children's) and that of the children it
// has reaped (PostgreSQL's backends come and go). 0 if unknown.
func treeCPUSeconds(pid int) float64 {
	withReaped := func(st procfs.ProcStat) float64 {
		return st.CPUTime() + float64(st.CUTime+st.CSTime)/userHZ
	}
	st, fs, ok := procStat(pid)
	if !ok {
		return 0
	}
	total := withReaped(st)
	all, err := fs.AllProcs()
	if err != nil {
		return total
	}
	for _, c := range all {
		cst, err := c.Stat()
		if err == nil && cst.PPID == pid {
			total += withReaped(cst)
		}
	}
	return total
}

// userHZ is the kernel's clock ticks per second of /proc/PID/stat (procfs's own CPUTime uses it).
const userHZ = 100
