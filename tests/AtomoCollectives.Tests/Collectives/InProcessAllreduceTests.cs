namespace AtomoCollectives.Tests.Collectives;

public sealed class InProcessAllreduceTests
{
    public static TheoryData<string, int> CasesAndSizes()
    {
        var data = new TheoryData<string, int>();
        foreach ((string name, _) in AllreduceContract.Cases)
        {
            foreach (int ranks in new[] { 1, 2, 4 })
            {
                data.Add(name, ranks);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CasesAndSizes))]
    public void Contract_holds_in_process(string name, int ranks)
    {
        Action<ICommunicator> run = AllreduceContract.Cases.Single(c => c.Name == name).Run;
        InProcessCluster.Run(ranks, run);
    }
}
