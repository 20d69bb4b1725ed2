using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Tests.Support;

/// <summary>
/// Port ranges for tests, below the kernel's ephemeral range (32768+) and away from the ports the end-to-end and NAT
/// tests use (12000-14999), unique per test class instance so parallel test classes never collide: a run hands out
/// fewer ports than the 25,000 here, so a block is never handed out twice.
/// </summary>
public static class TestPorts
{
    private static readonly (int Min, int Max)[] Areas = [(2000, 11999), (15000, 31999)];
    private static int _next;

    /// <summary>
    /// A block of <paramref name="size"/> consecutive ports (wraps after every area is used). The areas are laid end to
    /// end and handed out in order; a block that would cross from one area into the next (or wrap) is given up and the
    /// next one taken, so blocks of different sizes never overlap.
    /// </summary>
    public static (int Min, int Max) Block(int size = 40)
    {
        if (size < 1 || size > Areas.Max(a => a.Max - a.Min + 1)) throw new ArgumentOutOfRangeException(nameof(size), size, "larger than any area");
        var total = Areas.Sum(a => a.Max - a.Min + 1);
        while (true)
        {
            var offset = (Interlocked.Add(ref _next, size) - size) % total;
            foreach (var (min, max) in Areas)
            {
                var length = max - min + 1;
                if (offset < length)
                {
                    if (offset + size <= length) return (min + offset, min + offset + size - 1);
                    break; // it would cross into the next area: take the next block
                }
                offset -= length;
            }
        }
    }

    /// <summary>True when nobody holds UDP <paramref name="port"/> on loopback (a socket can bind it now).</summary>
    public static bool Bindable(int port)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException) { return false; }
    }
}
