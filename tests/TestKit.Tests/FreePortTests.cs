using System.Net;
using System.Net.Sockets;

namespace WebhookConnect.TestKit.Tests;

public sealed class FreePortTests
{
    private const string FlockInstallHint = "sudo apt-get install -y util-linux";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task APortHandedOutIsBelowTheEphemeralRangeBindableAndLockedAgainstOtherProcesses()
    {
        var flock = Prerequisites.RequireExecutable("flock", FlockInstallHint);
        var port = FreePort.Next();

        Assert.InRange(port, 10_000, FreePort.EphemeralRangeLow - 1);
        using (var listener = new TcpListener(IPAddress.Loopback, port))
        {
            listener.Start();
        }

        // Another process asking for the reservation's lock without waiting is refused (exit code 7 by our choice).
        await using var other = ChildProcess.Start("flock", flock, ["--nonblock", "--conflict-exit-code", "7", FreePort.ReservationFile(port), "true"]);
        Assert.Equal(7, await other.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task APortWhoseReservationAnotherProcessHoldsIsNotReservedUntilThatProcessEnds()
    {
        var flock = Prerequisites.RequireExecutable("flock", FlockInstallHint);
        var (port, holder) = await HoldAReservationInAnotherProcessAsync(flock);
        try
        {
            Assert.False(FreePort.Reserve(port));
        }
        finally
        {
            await holder.DisposeAsync();
        }

        Assert.True(FreePort.Reserve(port));
    }

    /// <summary>A child process that holds the reservation lock of a port nobody else reserved.</summary>
    private static async Task<(int Port, ChildProcess Holder)> HoldAReservationInAnotherProcessAsync(string flock)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var port = FreePort.EphemeralRangeLow - 1 - Random.Shared.Next(1000);
            Directory.CreateDirectory(Path.GetDirectoryName(FreePort.ReservationFile(port))!);
            var holder = ChildProcess.Start("flock", flock, ["--nonblock", FreePort.ReservationFile(port), "sh", "-c", "echo locked; exec sleep 120"]);
            try
            {
                await holder.WaitForLineAsync(line => line == "locked", Patience);
                return (port, holder);
            }
            catch (InvalidOperationException)
            {
                await holder.DisposeAsync(); // flock exited: a test process holds that port's reservation; try another.
            }
        }

        throw new InvalidOperationException("Could not lock the reservation file of any of 20 ports from a child process");
    }
}
