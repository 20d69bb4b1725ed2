namespace ActorRelay.NodeProcess;

/// <summary>
/// One node process per embedded journal file: a second node started on the same data directory and node name would
/// write the same journal (the same persistence id), fail at its first write and run on unrecorded, and the next start
/// of either would bring back the other's channels. The node holds an exclusive lock on <c>&lt;journal&gt;.lock</c> beside
/// the file while it runs; the kernel drops it when the process ends, however it ends (a crash leaves no stale lock).
/// </summary>
internal sealed class JournalFileLock : IDisposable
{
    private readonly FileStream _held;

    private JournalFileLock(FileStream held) => _held = held;

    /// <summary>Takes the lock of <paramref name="journalFile"/>, or throws a <see cref="UsageException"/> naming the
    /// setting to change when another process holds it.</summary>
    public static JournalFileLock Take(string journalFile)
    {
        var path = journalFile + ".lock";
        try
        {
            // FileShare.None is an exclusive advisory lock (flock) on Linux: a second FileShare.None open fails
            return new JournalFileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new UsageException($"relay.persistence.data-directory: another node process on this host uses the journal {journalFile}; " +
                                     "give each node its own relay.persistence.data-directory or relay.node-name");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"relay.persistence.data-directory: cannot lock {path}: {e.Message}");
        }
    }

    public void Dispose() => _held.Dispose();
}
