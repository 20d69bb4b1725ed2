using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ActorRelay.Bench;

/// <summary>
/// Where a process's resident memory is, from /proc/PID/smaps, in KB: each mapping is put in one class by what it is.
/// <list type="bullet">
/// <item>GcHeap: the garbage collector's reservation (the largest run of contiguous anonymous mappings; with regions it
/// is tens of GB of address space, only committed regions resident).</item>
/// <item>MallocMain: glibc's main arena (<c>[heap]</c>, grown with brk).</item>
/// <item>MallocArenas: glibc's per-thread arenas, 64 MB-aligned anonymous mappings of exactly 64 MB each.</item>
/// <item>ThreadStacks: an anonymous run that starts with a one-page guard (<c>---p</c>): a thread's stack.</item>
/// <item>JitCode: the runtime's double-mapped executable memory (<c>/memfd:doublemapper</c>: JIT code, stubs).</item>
/// <item>Files: mapped files (assemblies, shared libraries).</item>
/// <item>OtherAnon: every other anonymous mapping (the runtime's loader heaps, malloc's large blocks, native buffers).</item>
/// </list>
/// </summary>
internal sealed record ProcessMemory(
    long RssKb, long RssAnonKb, long RssFileKb, long RssShmemKb, int Threads, int Descriptors,
    long GcHeapKb, long MallocMainKb, long MallocArenasKb, int MallocArenaCount, long ThreadStacksKb, int ThreadStackCount,
    long JitCodeKb, long FilesKb, long OtherAnonKb)
{
    private const long ArenaSize = 64L << 20; // glibc HEAP_MAX_SIZE on 64-bit
    private const long Page = 4096;

    private sealed class Mapping(long start, long end, string perms, string path)
    {
        public long Start { get; } = start;
        public long End { get; } = end;
        public string Perms { get; } = perms;
        public string Path { get; } = path;
        public long RssKb { get; set; }
        public bool Anonymous => Path.Length == 0;
    }

    private static readonly Regex Header = new(@"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", RegexOptions.Compiled);

    public static ProcessMemory Read(int pid)
    {
        long rss = 0, anon = 0, file = 0, shmem = 0;
        var threads = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:")) rss = Kb(line);
            else if (line.StartsWith("RssAnon:")) anon = Kb(line);
            else if (line.StartsWith("RssFile:")) file = Kb(line);
            else if (line.StartsWith("RssShmem:")) shmem = Kb(line);
            else if (line.StartsWith("Threads:")) threads = (int)Kb(line);
        }
        var descriptors = Directory.GetFiles($"/proc/{pid}/fd").Length;

        var maps = new List<Mapping>();
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            var m = Header.Match(line);
            if (m.Success)
                maps.Add(new Mapping(long.Parse(m.Groups[1].Value, NumberStyles.HexNumber), long.Parse(m.Groups[2].Value, NumberStyles.HexNumber),
                    m.Groups[3].Value, m.Groups[4].Value.Trim()));
            else if (line.StartsWith("Rss:") && maps.Count > 0) maps[^1].RssKb = Kb(line);
        }

        long gcKb = 0, arenasKb = 0, stacksKb = 0, otherKb = 0, mainKb = 0, jitKb = 0, filesKb = 0;
        int arenas = 0, stacks = 0;
        // glibc arenas ([rw-p][---p] spanning exactly 64 MB from a 64 MB boundary) and thread stacks (a one-page guard,
        // then the stack) first; what is left of the anonymous mappings forms runs of contiguous mappings
        var rest = new List<Mapping>();
        for (var i = 0; i < maps.Count; i++)
        {
            var m = maps[i];
            if (!m.Anonymous) continue;
            if (m.Start % ArenaSize == 0 && m.Perms == "rw-p")
            {
                if (m.End - m.Start == ArenaSize) { arenasKb += m.RssKb; arenas++; continue; }
                if (i + 1 < maps.Count && maps[i + 1] is { Anonymous: true, Perms: "---p" } reserve && reserve.Start == m.End &&
                    reserve.End - m.Start == ArenaSize)
                {
                    arenasKb += m.RssKb + reserve.RssKb;
                    arenas++;
                    i++;
                    continue;
                }
            }
            if (m.Perms == "---p" && m.End - m.Start == Page && i + 1 < maps.Count &&
                maps[i + 1] is { Anonymous: true, Perms: "rw-p" } stack && stack.Start == m.End)
            {
                stacksKb += stack.RssKb;
                stacks++;
                i++;
                continue;
            }
            rest.Add(m);
        }
        var runs = new List<List<Mapping>>();
        foreach (var m in rest)
        {
            if (runs.Count > 0 && runs[^1][^1].End == m.Start) runs[^1].Add(m);
            else runs.Add([m]);
        }
        var gc = runs.Count == 0 ? null : runs.MaxBy(run => run[^1].End - run[0].Start); // the collector's reservation
        foreach (var run in runs)
        {
            if (run == gc) gcKb += run.Sum(m => m.RssKb);
            else otherKb += run.Sum(m => m.RssKb);
        }
        foreach (var m in maps)
        {
            if (m.Path == "[heap]") mainKb += m.RssKb;
            else if (m.Path.StartsWith("/memfd:doublemapper", StringComparison.Ordinal)) jitKb += m.RssKb;
            else if (m.Path.StartsWith('/')) filesKb += m.RssKb;
        }
        return new ProcessMemory(rss, anon, file, shmem, threads, descriptors, gcKb, mainKb, arenasKb, arenas, stacksKb, stacks,
            jitKb, filesKb, otherKb);
    }

    private static long Kb(string statusLine) =>
        long.Parse(statusLine.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}

/// <summary>
/// glibc malloc's own accounting of a process (malloc_info), read by attaching gdb for about a second: bytes the
/// arenas hold from the system, bytes free inside them, bytes in mmap'd blocks, and how many arenas there are.
/// </summary>
internal sealed record MallocInfo(int Arenas, long SystemBytes, long FreeBytes, long MmapBytes)
{
    /// <summary>Bytes malloc has handed out and not had back: what the program's native allocations hold.</summary>
    public long InUseBytes => SystemBytes - FreeBytes + MmapBytes;

    public static bool Available => File.Exists("/usr/bin/gdb");

    /// <summary>Attaches gdb to <paramref name="pid"/>, has it write malloc_info to a file, parses it; null if that fails.</summary>
    public static MallocInfo? Read(int pid)
    {
        var file = Path.Combine(Path.GetTempPath(), $"actorrelay-malloc-{pid}.xml");
        try
        {
            File.Delete(file);
            var psi = new ProcessStartInfo("gdb") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[]
                     {
                         "-p", pid.ToString(CultureInfo.InvariantCulture), "-batch", "-nx",
                         "-ex", $"set $f = (void*)fopen(\"{file}\", \"w\")",
                         "-ex", "call (int)malloc_info(0, $f)",
                         "-ex", "call (int)fclose($f)",
                     }) psi.ArgumentList.Add(a);
            using var gdb = Process.Start(psi)!;
            gdb.StandardOutput.ReadToEnd();
            gdb.StandardError.ReadToEnd();
            if (!gdb.WaitForExit(30_000)) { gdb.Kill(); return null; }
            if (!File.Exists(file)) return null;
            return Parse(File.ReadAllText(file));
        }
        catch (Exception) { return null; }
        finally { try { File.Delete(file); } catch (IOException) { } }
    }

    /// <summary>The totals of malloc_info's XML (the elements directly under &lt;malloc&gt;).</summary>
    public static MallocInfo Parse(string xml)
    {
        var root = XElement.Parse(xml);
        long Total(string element, string type) => root.Elements(element).Where(e => (string?)e.Attribute("type") == type)
            .Select(e => (long?)e.Attribute("size") ?? 0).FirstOrDefault();
        return new MallocInfo(root.Elements("heap").Count(), Total("system", "current"),
            Total("total", "fast") + Total("total", "rest"), Total("total", "mmap"));
    }
}
