using System.Net;
using System.Text;
using Akka.Actor;
using Akka.Cluster;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Akka.Management.Dsl;
using ActorRelay.Metrics;
using Newtonsoft.Json;

namespace ActorRelay.NodeProcess;

/// <summary>
/// The node's Cluster Bootstrap contact point (relay.cluster.bootstrap): the HTTP endpoint the other nodes' bootstrap
/// probes, <c>GET {akka.management.http.base-path}/bootstrap/seed-nodes</c>, answered with Akka.Management's own
/// protocol (<see cref="HttpBootstrapJsonProtocol"/>, the JSON its routes write) on akka.management.http's bind host and
/// port. Akka.Management's own HTTP server cannot start with the Ceen.Httpd the package registry serves (0.9.10, whose
/// HttpServer.ListenAsync Akka.Http.Shim 1.5.73 does not find), so the node serves this one route with the runtime's
/// HttpListener, as it serves /metrics; discovery, probing and the join decision stay Akka.Management's.
/// </summary>
internal sealed class BootstrapContactPoint : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ActorSystem _system;
    private readonly string _path;
    private readonly int _maxSeedNodes;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    private BootstrapContactPoint(ActorSystem system, string bindHost, int bindPort, string basePath)
    {
        _system = system;
        var prefixPath = basePath.Trim('/') is { Length: > 0 } b ? $"/{b}/" : "/";
        _path = prefixPath + "bootstrap/seed-nodes";
        _maxSeedNodes = system.Settings.Config.GetInt("akka.management.cluster.bootstrap.contact-point.max-seed-nodes-to-expose", int.MaxValue);
        var (host, port) = MetricsEndpoint.Parse($"{bindHost}:{bindPort}");
        _listener.Prefixes.Add($"http://{host}:{port}{prefixPath}");
        _listener.Start(); // throws HttpListenerException when the address is taken or not local
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>The address this node advertises as its contact point (what discovery must list for it).</summary>
    public required Uri SelfContactPoint { get; init; }

    /// <summary>
    /// Hands Cluster Bootstrap this node's contact point (from akka.management.http, as Akka.Management computes it),
    /// listens on it, and starts the bootstrap. Throws <see cref="HttpListenerException"/> when the endpoint cannot listen.
    /// </summary>
    public static async Task<BootstrapContactPoint> StartAsync(ActorSystem system)
    {
        var management = AkkaManagement.Get(system);
        Uri? self = null;
        // the route providers learn the self contact point here (ClusterBootstrap keeps it for its join decision)
        management.Routes(s => { self = s.SelfBaseUri; return s; });
        var http = management.Settings.Http;
        var contact = new BootstrapContactPoint(system, http.EffectiveBindHostname, http.EffectiveBindPort, http.BasePath) { SelfContactPoint = self! };
        try
        {
            await ClusterBootstrap.Get(system).Start();
        }
        catch
        {
            contact.Dispose();
            throw;
        }
        return contact;
    }

    private Task ServeAsync() => HttpServeLoop.RunAsync(_listener, _stop.Token, context =>
    {
        Answer(context);
        return Task.CompletedTask;
    });

    private void Answer(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            if (context.Request.HttpMethod != "GET" || context.Request.Url?.AbsolutePath.TrimEnd('/') != _path)
            {
                response.StatusCode = 404;
                return;
            }
            var cluster = Akka.Cluster.Cluster.Get(_system);
            // a node on its way out is no contact point; one that has not joined yet (its SelfMember reads Removed until then)
            // is one: it answers no seed nodes, which is what lets the lowest-addressed contact point form a new cluster
            if (cluster.SelfMember.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving)
            {
                response.StatusCode = 503;
                return;
            }
            var state = cluster.State;
            var members = state.Members
                .Where(m => !state.Unreachable.Contains(m) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
                .Take(_maxSeedNodes)
                .Select(m => new HttpBootstrapJsonProtocol.ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
                .ToList();
            var body = Encoding.UTF8.GetBytes(JsonConvert.SerializeObject(
                new HttpBootstrapJsonProtocol.SeedNodes(cluster.SelfMember.UniqueAddress.Address, [.. members])));
            response.StatusCode = 200;
            response.ContentType = "application/json";
            response.ContentLength64 = body.Length;
            response.OutputStream.Write(body);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // the prober went away: it asks again at its next probe interval
        }
        finally
        {
            try { response.Close(); } catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _listener.Stop(); _listener.Close(); } catch (ObjectDisposedException) { }
        try { _serving.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
    }
}
