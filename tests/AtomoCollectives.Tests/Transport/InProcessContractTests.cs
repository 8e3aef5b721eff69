namespace AtomoCollectives.Tests.Transport;

/// <summary>The shared <see cref="CommunicatorContract"/> over <see cref="InProcessCluster"/> at 1, 2, 4 and 16 ranks.</summary>
[Collection("Transport")]
public sealed class InProcessContractTests
{
    public static TheoryData<string, int> CasesAndSizes()
    {
        var data = new TheoryData<string, int>();
        foreach ((string name, _) in CommunicatorContract.Cases)
        {
            foreach (int ranks in new[] { 1, 2, 4, 16 })
            {
                data.Add(name, ranks);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CasesAndSizes))]
    public void Contract(string caseName, int ranks)
        => InProcessCluster.Run(ranks, comm => CommunicatorContract.Run(caseName, comm));
}
