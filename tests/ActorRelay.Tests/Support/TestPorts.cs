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

    /// <summary>A block of <paramref name="size"/> consecutive ports (wraps after every area is used).</summary>
    public static (int Min, int Max) Block(int size = 40)
    {
        var total = Areas.Sum(a => a.Max - a.Min + 1 - (a.Max - a.Min + 1) % size);
        var offset = (Interlocked.Add(ref _next, size) - size) % total;
        foreach (var (min, max) in Areas)
        {
            var usable = max - min + 1 - (max - min + 1) % size;
            if (offset < usable) return (min + offset, min + offset + size - 1);
            offset -= usable;
        }
        throw new InvalidOperationException("unreachable");
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
