using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Tests.Support;

/// <summary>
/// Port ranges for tests, below the kernel's ephemeral range (32768+) and away from the node's default
/// pool, unique per test class instance so parallel test classes never collide.
/// </summary>
public static class TestPorts
{
    private static int _next = 2000;

    /// <summary>A block of <paramref name="size"/> ports between 2000 and 9999 (wraps).</summary>
    public static (int Min, int Max) Block(int size = 40)
    {
        var start = Interlocked.Add(ref _next, size) - size;
        var min = 2000 + (start - 2000) % (9999 - 2000 - size);
        return (min, min + size - 1);
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
