using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ActorRelay.RelayLoops;

/// <summary>
/// The few Linux system calls the relay loop needs (epoll, eventfd, recvfrom/recvmmsg, sendto/sendmmsg), declared for
/// 64-bit Linux (x64 and arm64, the layouts below). Everything is blittable: no marshalling per call.
/// Declared without SetLastError (whose stub adds two native calls to every call, on the per-packet path):
/// a caller reads <see cref="Errno"/> right after a call that failed, which is what that stub does too.
/// </summary>
internal static unsafe partial class LinuxUdp
{
    /// <summary>True where the relay loop can run: Linux on x64 or arm64.</summary>
    public static bool Supported =>
        OperatingSystem.IsLinux() &&
        RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    public const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2;
    public const uint EPOLLIN = 0x001;
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
    public const int MSG_DONTWAIT = 0x40;

    public const int EINTR = 4, EAGAIN = 11, ENOMEM = 12, ENETUNREACH = 101, ECONNRESET = 104, ENOBUFS = 105,
        ECONNREFUSED = 111, EHOSTUNREACH = 113;

    /// <summary>SOL_SOCKET and SO_TIMESTAMPNS (= SCM_TIMESTAMPNS): the kernel's receive time of each datagram, as a timespec.</summary>
    public const int SOL_SOCKET = 1, SO_TIMESTAMPNS = 35;

    /// <summary>CMSG_SPACE(sizeof(struct timespec)): a cmsghdr (16 bytes) and the timespec (16 bytes).</summary>
    public const int TimestampControlSize = 32;

    /// <summary>
    /// The kernel's receive time of a datagram received with <paramref name="header"/>, whose control buffer is
    /// <paramref name="control"/> (<see cref="TimestampControlSize"/> bytes): ns since the epoch, or 0 when the datagram
    /// came without one.
    /// </summary>
    public static long ReceivedAtNs(in MsgHdr header, byte* control)
    {
        if (header.ControlLength < TimestampControlSize) return 0;
        if (*(int*)(control + 8) != SOL_SOCKET || *(int*)(control + 12) != SO_TIMESTAMPNS) return 0;
        return *(long*)(control + 16) * 1_000_000_000 + *(long*)(control + 24);
    }

    /// <summary>AF_INET and AF_INET6 as Linux stores them in sa_family (host byte order).</summary>
    public const ushort AF_INET = 2, AF_INET6 = 10;

    /// <summary>sizeof(struct sockaddr_in6): room for either family.</summary>
    public const int SockaddrSize = 28;

    /// <summary>struct epoll_event is packed on x64 (12 bytes) and naturally aligned elsewhere (16 bytes).</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    public static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    /// <summary>setpriority(PRIO_PROCESS, 0, nice): on Linux the nice value of the calling thread only.</summary>
    [LibraryImport("libc")]
    public static partial int setpriority(int which, int who, int prio);
    public const int PRIO_PROCESS = 0;

    /// <summary>The calling thread's kernel id (its /proc/self/task/TID).</summary>
    [LibraryImport("libc")]
    public static partial int gettid();

    [LibraryImport("libc")]
    public static partial long sysconf(int name);
    public const int _SC_CLK_TCK = 2;

    [LibraryImport("libc")]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc")]
    public static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc")]
    public static partial int epoll_wait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport("libc")]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc")]
    public static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport("libc")]
    public static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport("libc")]
    public static partial int close(int fd);

    [LibraryImport("libc")]
    public static partial nint recvfrom(int fd, byte* buf, nuint len, int flags, byte* addr, uint* addrlen);

    [LibraryImport("libc")]
    public static partial int recvmmsg(int fd, MMsgHdr* msgs, uint vlen, int flags, void* timeout);

    [LibraryImport("libc")]
    public static partial int sendmmsg(int fd, MMsgHdr* msgs, uint vlen, int flags);

    [LibraryImport("libc")]
    public static partial nint sendto(int fd, byte* buf, nuint len, int flags, byte* addr, uint addrlen);

    /// <summary>The family of a sockaddr as Linux stores it (sa_family, host byte order, at offset 0).</summary>
    public static AddressFamily FamilyOf(ReadOnlySpan<byte> name) =>
        name.Length < 2 ? AddressFamily.Unknown : MemoryMarshal.Read<ushort>(name) switch
        {
            AF_INET => AddressFamily.InterNetwork,
            AF_INET6 => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };

    /// <summary>The error of the last failed call on this thread.</summary>
    public static int Errno() => Marshal.GetLastSystemError();

    /// <summary>Adds or removes <paramref name="fd"/> in an epoll set, watching for input, with <paramref name="data"/> as its token.</summary>
    public static int EpollControl(int epfd, int op, int fd, ulong data)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = EPOLLIN;
        *(ulong*)(ev + EpollDataOffset) = data;
        return epoll_ctl(epfd, op, fd, ev);
    }
}
