using System.Runtime.InteropServices;

namespace ActorRelay.Bench;

/// <summary>System calls only the load generator needs (the relay's own are in ActorRelay.RelayLoops.LinuxUdp).</summary>
internal static unsafe partial class BenchSyscalls
{
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>epoll_wait with a nanosecond timeout (Linux 5.11+, glibc 2.35+).</summary>
    [LibraryImport("libc")]
    public static partial int epoll_pwait2(int epfd, byte* events, int maxEvents, TimeSpec* timeout, void* sigmask);
}
