using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>
/// A foreground daemon the tests start (kamailio, a reference relay): its stdout and stderr are kept (the last
/// <see cref="MaxLines"/> lines) for the test output; Dispose stops it with SIGTERM, then kills its whole
/// process tree if it has not exited within a few seconds. Every command line carries <see cref="Marker"/>
/// (in a path under the temp directory), so <see cref="SweepStale"/> can end, by process id, what a test host
/// that died left behind, and nothing else.
/// </summary>
public sealed class ManagedProcess : IDisposable
{
    public const string Marker = "actorrelay-sip-";
    public const int MaxLines = 4000;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private int _disposed;

    public ManagedProcess(string name, string file, IEnumerable<string> args)
    {
        Name = name;
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,   // closed right away: nothing waits on a terminal
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        CommandLine = file + " " + string.Join(' ', psi.ArgumentList);
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.Start();
        _process.StandardInput.Close();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }
    public string CommandLine { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;
    public string Log => string.Join('\n', _lines);
    public IEnumerable<string> Lines => _lines;

    private void Keep(string? line)
    {
        if (line is null) return;
        _lines.Enqueue(line);
        while (_lines.Count > MaxLines) _lines.TryDequeue(out _);
    }

    /// <summary>SIGTERM and wait; SIGKILL to the tree if it takes longer than <paramref name="grace"/>.</summary>
    public void Stop(TimeSpan grace)
    {
        if (_process.HasExited) return;
        kill(_process.Id, SigTerm);
        if (_process.WaitForExit(grace)) return;
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.WaitForExit(TimeSpan.FromSeconds(5));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { Stop(TimeSpan.FromSeconds(5)); }
        finally { _process.Dispose(); }
    }

    /// <summary>Ends (by process id) processes whose command line carries <see cref="Marker"/>: left by a test host that died.</summary>
    public static void SweepStale()
    {
        if (!OperatingSystem.IsLinux()) return;
        var self = Environment.ProcessId;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == self) continue;
            string cmdline;
            try { cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' '); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (!cmdline.Contains(Path.Combine(Path.GetTempPath(), Marker))) continue;
            if (!(cmdline.StartsWith("kamailio", StringComparison.Ordinal) || cmdline.Contains("/kamailio ") ||
                  cmdline.StartsWith("rtpengine", StringComparison.Ordinal) || cmdline.Contains("/rtpengine "))) continue;
            kill(pid, SigKill);
        }
    }

    private const int SigTerm = 15, SigKill = 9;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
