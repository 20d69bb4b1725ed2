using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>The built ActorRelay.Node run as a child process; stderr lines are collected for assertions.</summary>
public sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = new();
    private readonly List<string> _all = new();
    private readonly List<string> _errors = new();
    private readonly string? _ownData;

    /// <param name="softFileLimit">Starts the node with this soft open-file limit (through the shell's ulimit), as a
    /// login session's default of 1024 would.</param>
    /// <param name="fileLimit">Starts the node with this open-file limit, soft and hard (the node cannot raise it).</param>
    /// <param name="joinGroup">Starts the node inside this control group (its directory): the shell joins it, then
    /// becomes the node, as a container's process starts inside its group.</param>
    public NodeProcess(IEnumerable<string> args, IDictionary<string, string>? environment = null, int? softFileLimit = null, int? fileLimit = null,
        string? joinGroup = null)
    {
        var ulimit = softFileLimit is { } soft ? $"ulimit -Sn {soft}" : fileLimit is { } both ? $"ulimit -n {both}" : null;
        if (joinGroup is not null) ulimit = $"echo $$ > '{joinGroup}/cgroup.procs'" + (ulimit is null ? "" : $" && {ulimit}");
        var psi = new ProcessStartInfo(ulimit is null ? "dotnet" : "bash")
            { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (ulimit is not null)
        {
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add($"{ulimit} && exec dotnet \"$@\"");
            psi.ArgumentList.Add("node");
        }
        psi.ArgumentList.Add(NodeDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        if (!psi.Environment.ContainsKey(DataDirectoryVariable))
        {
            // every node its own journal unless the test shares one on purpose (a restart that brings channels back):
            // nodes of tests running side by side would otherwise recover each other's channels from the default file
            _ownData = Directory.CreateTempSubdirectory("actorrelay-node-").FullName;
            psi.Environment[DataDirectoryVariable] = _ownData;
        }
        _process = new Process { StartInfo = psi };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) { lock (_all) { _all.Add(l); _errors.Add(l); } _lines.Add(l); } };
        _process.OutputDataReceived += (_, e) => { if (e.Data is { } l) { lock (_all) _all.Add(l); _lines.Add(l); } };
        _process.Start();
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    /// <summary>src/ActorRelay.Node/bin/&lt;same configuration as this test&gt;/net10.0/ActorRelay.Node.dll</summary>
    public static string NodeDll
    {
        get
        {
            var here = new DirectoryInfo(AppContext.BaseDirectory); // tests/ActorRelay.EndToEnd.Tests/bin/<cfg>/<tfm>/
            var tfm = here.Name;
            var configuration = here.Parent!.Name;
            var root = here.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
            var dll = Path.Combine(root, "src", "ActorRelay.Node", "bin", configuration, tfm, "ActorRelay.Node.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("build src/ActorRelay.Node first", dll);
        }
    }

    public string Output { get { lock (_all) return string.Join('\n', _all); } }

    /// <summary>What the node wrote on stderr, line by line (its log and its messages to the user).</summary>
    public IReadOnlyList<string> ErrorLines { get { lock (_all) return _errors.ToList(); } }

    /// <summary>Waits for a line (seen before or arriving later) matching <paramref name="match"/>; fails with the whole output otherwise.</summary>
    public string WaitForLine(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            lock (_all)
            {
                foreach (var seen in _all) if (match(seen)) return seen;
            }
            if (_process.HasExited && !_lines.TryTake(out _, TimeSpan.FromMilliseconds(200)))
                throw new Xunit.Sdk.XunitException($"node exited ({_process.ExitCode}) before the expected line:\n{Output}");
            _lines.TryTake(out _, TimeSpan.FromMilliseconds(100)); // wakes up when a new line arrives
        }
        throw new Xunit.Sdk.XunitException($"expected line not seen within {timeout}:\n{Output}");
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) throw new Xunit.Sdk.XunitException($"node still running after {timeout}:\n{Output}");
        _process.WaitForExit(); // flush the output readers
        return _process.ExitCode;
    }

    public int Pid => _process.Id;

    private const string DataDirectoryVariable = "ACTORRELAY__PERSISTENCE__DATA_DIRECTORY";

    public void Terminate() => kill(_process.Id, 15);

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    private bool _disposed;

    /// <summary>Kills the node if it still runs (SIGKILL: no drain, nothing recorded any more). Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited) { try { _process.Kill(entireProcessTree: true); _process.WaitForExit(5000); } catch { } }
        _process.Dispose();
        if (_ownData is not null) { try { Directory.Delete(_ownData, recursive: true); } catch (IOException) { } }
    }
}
