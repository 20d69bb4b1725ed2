using System.Runtime.InteropServices;
using Akka.Actor;
using ActorRelay.Protocol;
using Serilog;

namespace ActorRelay.Node;

/// <summary>
/// SIGTERM and Ctrl-C (SIGINT) beside the host's own handling: the first one stops the host, whose coordinated shutdown
/// drains the node (keeping the calls until they end with relay.cluster.drain-keeps-calls, up to the service-unbind
/// deadline); a second one during that wait closes every channel at once (<see cref="DrainNode"/> without keeping
/// them), so the shutdown goes on without waiting for the calls, and the process exits with <see cref="ExitCode"/>.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    /// <summary>The exit code after a second signal cut the drain short (128 + SIGTERM, the shells' "terminated").</summary>
    public const int ExitCode = 143;

    private readonly IActorRef _node;
    private readonly TimeSpan _closeTimeout;
    private readonly PosixSignalRegistration[] _registrations;
    private int _signals;

    public StopSignals(IActorRef node, TimeSpan closeTimeout)
    {
        _node = node;
        _closeTimeout = closeTimeout;
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal)];
    }

    /// <summary>A second signal came: the drain was cut short and the channels closed without waiting for their calls.</summary>
    public bool CutShort => Volatile.Read(ref _signals) >= 2;

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // the host's handler stops the node; the process ends when it has
        if (Interlocked.Increment(ref _signals) != 2) return;
        Log.Warning("A second {Signal} while stopping: closing every channel now instead of waiting for the calls to end (exit code {ExitCode})",
            context.Signal, ExitCode);
        _node.Ask<NodeDrained>(DrainNode.Instance, _closeTimeout * 2).ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) Log.Information("Every channel closed ({Free} of {Total} ports free)", t.Result.PortsFree, t.Result.PortsTotal);
            else Log.Warning("The node did not report its channels closed within {Timeout}: {Error}", _closeTimeout * 2, t.Exception?.GetBaseException().Message);
        }, TaskScheduler.Default);
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
