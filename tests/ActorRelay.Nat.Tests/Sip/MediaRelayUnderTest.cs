using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>
/// The media relay a <see cref="KamailioCallSpecs"/> variant puts behind Kamailio: something that speaks the NG
/// control protocol on a loopback address and relays RTP on the lab's public address
/// (<see cref="NatLab.RelayAddress"/>) from a known port range (the attacker sprays all of it).
/// </summary>
public interface IMediaRelayUnderTest : IDisposable
{
    string Name { get; }

    /// <summary>Starts the relay on <paramref name="lab"/>; returns once it answers an NG ping, throws if it cannot.</summary>
    void Start(NatLab lab);

    /// <summary>Where it takes NG commands (loopback UDP).</summary>
    IPEndPoint NgAddress { get; }

    /// <summary>The media ports it may allocate on <see cref="NatLab.RelayAddress"/>, both ends included.</summary>
    int PortMin { get; }
    int PortMax { get; }

    /// <summary>What it logged, for the test output after a failure.</summary>
    string Log { get; }
}

/// <summary>
/// Debian's rtpengine (package rtpengine-daemon), userspace only, as the reference NG relay that proves the
/// harness. It is not installed by any script (a developer installs it by hand to validate the harness).
/// Options: no config file (the package's /etc/rtpengine/rtpengine.conf would ask for the kernel table, a CLI
/// and an HTTP listener, recording), no kernel forwarding, media only on the lab's public address, a small
/// port range, NG on a free loopback port, and delete-delay 0 so a deleted call is gone at once (its default
/// keeps it 30 s).
/// </summary>
public sealed class RtpengineRelay(string learning = "immediate", int portMin = 30000, int portMax = 30199) : IMediaRelayUnderTest
{
    public const string Binary = "/usr/bin/rtpengine";
    private ManagedProcess? _process;
    private string? _dir;

    public string Name => "rtpengine";
    public IPEndPoint NgAddress { get; private set; } = new(IPAddress.Loopback, 0);
    public int PortMin => portMin;
    public int PortMax => portMax;
    public string Log => _process?.Log ?? "";

    public static bool Installed => File.Exists(Binary);

    public void Start(NatLab lab)
    {
        _dir = Directory.CreateTempSubdirectory(ManagedProcess.Marker + "rtpengine-").FullName;
        NgAddress = new IPEndPoint(IPAddress.Loopback, FreeUdpPort());
        _process = new ManagedProcess("rtpengine", Binary,
        [
            "--config-file=none", "--table=-1", "--foreground", "--log-stderr", "--no-log-timestamps",
            $"--pidfile={Path.Combine(_dir, "rtpengine.pid")}",
            $"--interface={NatLab.RelayAddress}",
            $"--listen-ng={NgAddress}",
            $"--port-min={PortMin}", $"--port-max={PortMax}",
            "--delete-delay=0", "--num-threads=2", "--log-level=6",
            $"--endpoint-learning={learning}",
        ]);
        using var ng = new NgClient(NgAddress);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"rtpengine exited ({_process.ExitCode}):\n{Log}");
            if (ng.Ping(TimeSpan.FromMilliseconds(300))) return;
        }
        throw new InvalidOperationException($"rtpengine did not answer an NG ping within 10 s:\n{Log}");
    }

    /// <summary>A UDP port on loopback that nothing holds right now.</summary>
    public static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    public void Dispose()
    {
        _process?.Dispose();
        if (_dir is not null) try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
