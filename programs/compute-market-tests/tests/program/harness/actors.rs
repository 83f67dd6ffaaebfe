//! The parties of a test: funded wallets, registered providers, and the usual starting point
//! (a single-replica job claimed by a fresh provider).

use compute_market_sdk::instructions as sdk_ix;

use super::*;

/// A funded wallet with an associated token account of the payment mint.
pub struct Wallet {
    pub key: Keypair,
    pub token: Pubkey,
}

impl Wallet {
    pub fn pubkey(&self) -> Pubkey {
        self.key.pubkey()
    }
}

/// A registered provider.
pub struct ProviderActor {
    pub wallet: Wallet,
    pub provider: Pubkey,
    pub vault: Pubkey,
}

impl ProviderActor {
    /// The (not yet registered) provider of `wallet` in `market`.
    pub fn of(market: &Pubkey, wallet: Wallet) -> Self {
        let provider = provider_pda(market, &wallet.pubkey());
        Self {
            vault: stake_pda(&provider),
            provider,
            wallet,
        }
    }
}

/// A single-replica job posted by a client holding 1,000,000 tokens, claimed by a fresh
/// provider (see [`Harness::claimed_single_job`]).
pub struct ClaimedJob {
    pub client: Wallet,
    pub provider: ProviderActor,
    pub job: Pubkey,
}

impl Harness {
    /// A wallet with SOL and `tokens` of the payment mint in its associated token account
    /// (the account the SDK's builders use).
    pub fn wallet(&mut self, tokens: u64) -> Wallet {
        let key = self.keypair();
        self.svm.airdrop(&key.pubkey(), 10_000_000_000).unwrap();
        self.fund(key, tokens)
    }

    /// Gives `key` an associated token account holding `tokens`.
    pub fn fund(&mut self, key: Keypair, tokens: u64) -> Wallet {
        let create = sdk_ix::create_token_account(&self.payer.pubkey(), &key.pubkey(), &self.mint);
        self.send(&[create], &[])
            .expect("create associated token account");
        let token = compute_market_sdk::pda::token_account(&key.pubkey(), &self.mint);
        if tokens > 0 {
            self.mint_to(&token, tokens);
        }
        Wallet { key, token }
    }

    /// A registered provider with `stake` staked (and nothing left in its wallet).
    pub fn provider_with(&mut self, stake: u64, caps: Capabilities) -> ProviderActor {
        let wallet = self.wallet(stake);
        let actor = ProviderActor::of(&self.market, wallet);
        self.provider_register(&actor, stake, caps)
            .expect("provider_register");
        actor
    }

    pub fn new_provider(&mut self) -> ProviderActor {
        self.provider_with(MIN_STAKE, caps())
    }

    /// `n` fresh providers with the minimum stake.
    pub fn providers(&mut self, n: usize) -> Vec<ProviderActor> {
        (0..n).map(|_| self.new_provider()).collect()
    }

    /// The most common starting point of a test: see [`ClaimedJob`].
    pub fn claimed_single_job(&mut self) -> ClaimedJob {
        let client = self.wallet(1_000_000);
        let provider = self.new_provider();
        let args = self.job_args(1, 1);
        let job = self.post(&client, &args).unwrap();
        self.claim(&provider, &job).unwrap();
        ClaimedJob {
            client,
            provider,
            job,
        }
    }

    /// A job of `replicas`/`quorum` posted by `client` and claimed by every provider of `ps`.
    pub fn claimed_job(
        &mut self,
        client: &Wallet,
        ps: &[ProviderActor],
        replicas: u8,
        quorum: u8,
    ) -> Pubkey {
        let args = self.job_args(replicas, quorum);
        let job = self.post(client, &args).unwrap();
        for p in ps {
            self.claim(p, &job).unwrap();
        }
        job
    }

    /// A second market (by a second creator, on a second mint) with one posted job; the
    /// harness stays on its own market. Returns (market, job).
    pub fn foreign_market_job(&mut self) -> (Pubkey, Pubkey) {
        let first = (self.mint, self.market, self.treasury, self.minted);
        self.mint = self.create_mint();
        let creator = self.wallet(0);
        let mint = self.mint;
        self.market_init_by(&creator.key, &mint, &market_args())
            .unwrap();
        self.market = market_pda(&mint, &creator.pubkey());
        let client = self.wallet(1_000_000);
        let args = self.job_args(1, 1);
        let job = self.post(&client, &args).unwrap();
        let market = self.market;
        (self.mint, self.market, self.treasury, self.minted) = first;
        (market, job)
    }
}
