//! One builder (`*_ix`, the SDK's own builder) and one sender per instruction, with sensible
//! defaults.

use compute_market::{
    ClaimRules, JobPostArgs, JobRevealArgs, JobSubmitArgs, MarketInitArgs, MarketUpdateArgs,
    ProviderRegisterArgs, ProviderUpdateArgs,
};
use compute_market_sdk::instructions as sdk_ix;

use super::*;

impl Harness {
    // ----- market -----

    /// `market_init` of `mint` by `creator` (its market is `market_pda(mint, creator)`).
    pub fn market_init_by(
        &mut self,
        creator: &Keypair,
        mint: &Pubkey,
        args: &MarketInitArgs,
    ) -> TxResult {
        let ix = sdk_ix::market_init(&creator.pubkey(), mint, args.clone());
        self.send(&[ix], &[creator])
    }

    /// `market_init` of the current market again (by the harness authority).
    pub fn market_init(&mut self, args: &MarketInitArgs) -> TxResult {
        let auth = self.authority.insecure_clone();
        let mint = self.mint;
        self.market_init_by(&auth, &mint, args)
    }

    pub fn market_update(&mut self, signer: &Keypair, args: MarketUpdateArgs) -> TxResult {
        let ix = sdk_ix::market_update(&signer.pubkey(), &self.market, args);
        self.send(&[ix], &[signer])
    }

    pub fn accept_authority(&mut self, signer: &Keypair) -> TxResult {
        let ix = sdk_ix::market_accept_authority(&signer.pubkey(), &self.market);
        self.send(&[ix], &[signer])
    }

    pub fn withdraw_fees_ix(
        &self,
        signer: &Pubkey,
        destination: &Pubkey,
        amount: u64,
    ) -> Instruction {
        sdk_ix::market_withdraw_fees(signer, &self.market, &self.mint, destination, amount)
    }

    pub fn withdraw_fees(
        &mut self,
        signer: &Keypair,
        destination: &Pubkey,
        amount: u64,
    ) -> TxResult {
        let ix = self.withdraw_fees_ix(&signer.pubkey(), destination, amount);
        self.send(&[ix], &[signer])
    }

    // ----- provider -----

    pub fn provider_register(
        &mut self,
        p: &ProviderActor,
        stake: u64,
        capabilities: Capabilities,
    ) -> TxResult {
        self.provider_register_with(p, stake, capabilities, capacity())
    }

    pub fn provider_register_with(
        &mut self,
        p: &ProviderActor,
        stake: u64,
        capabilities: Capabilities,
        capacity: Capacity,
    ) -> TxResult {
        let ix = sdk_ix::provider_register(
            &self.market,
            &self.mint,
            &p.wallet.pubkey(),
            ProviderRegisterArgs {
                stake,
                capabilities,
                capacity,
            },
        );
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn stake_ix(&self, p: &ProviderActor, amount: u64) -> Instruction {
        sdk_ix::provider_stake(&self.market, &self.mint, &p.wallet.pubkey(), amount)
    }

    pub fn unstake_ix(&self, p: &ProviderActor, amount: u64) -> Instruction {
        sdk_ix::provider_unstake(&self.market, &p.wallet.pubkey(), amount)
    }

    pub fn withdraw_ix(&self, p: &ProviderActor) -> Instruction {
        sdk_ix::provider_withdraw(&self.market, &self.mint, &p.wallet.pubkey())
    }

    pub fn provider_update_ix(&self, p: &ProviderActor, args: ProviderUpdateArgs) -> Instruction {
        sdk_ix::provider_update(&self.market, &p.wallet.pubkey(), args)
    }

    pub fn withdraw_earnings_ix(&self, p: &ProviderActor, destination: &Pubkey) -> Instruction {
        sdk_ix::provider_withdraw_earnings(
            &self.market,
            &self.mint,
            &p.wallet.pubkey(),
            destination,
        )
    }

    /// `provider_withdraw_earnings` of `p` to `destination`.
    pub fn withdraw_earnings(&mut self, p: &ProviderActor, destination: &Pubkey) -> TxResult {
        let ix = self.withdraw_earnings_ix(p, destination);
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn sweep_ix(&self, provider: &Pubkey) -> Instruction {
        sdk_ix::provider_sweep(&self.payer.pubkey(), &self.market, &self.mint, provider)
    }

    /// `provider_sweep`, cranked by the fee payer; records what it burnt.
    pub fn sweep(&mut self, provider: &Pubkey) -> TxResult {
        let ix = self.sweep_ix(provider);
        let meta = self.send(&[ix], &[])?;
        let swept: compute_market::events::ProviderSwept = event(&meta);
        self.burnt += swept.burnt;
        Ok(meta)
    }

    // ----- job -----

    /// Default job arguments with `replicas`/`quorum` and a fresh job id.
    pub fn job_args(&mut self, replicas: u8, quorum: u8) -> JobPostArgs {
        JobPostArgs {
            job_id: self.next_job_id(),
            spec: spec(),
            entry_point: "main".into(),
            shader_uri: "file:///blobs/shader.wgsl".into(),
            input_uri: "file:///blobs/input.bin".into(),
            reward_per_replica: REWARD,
            replicas,
            quorum,
            claim_deadline: 0,
            commit_deadline: 0,
            reveal_deadline: 0,
            rules: ClaimRules::default(),
        }
    }

    pub fn post_ix(&self, client: &Wallet, args: &JobPostArgs) -> (Instruction, Pubkey) {
        let job = job_pda(&self.market, &client.pubkey(), args.job_id);
        let ix = sdk_ix::job_post(&self.market, &self.mint, &client.pubkey(), args.clone());
        (ix, job)
    }

    /// Posts a job; returns its address.
    pub fn post(
        &mut self,
        client: &Wallet,
        args: &JobPostArgs,
    ) -> Result<Pubkey, litesvm::types::FailedTransactionMetadata> {
        let (ix, job) = self.post_ix(client, args);
        self.send(&[ix], &[&client.key]).map(|_| job)
    }

    pub fn cancel_ix(&self, job: &Pubkey, destination: &Pubkey) -> Instruction {
        sdk_ix::job_cancel(job, &self.job(job), &self.market_account(), destination)
    }

    /// `job_cancel` by `client`, the refund to `destination`.
    pub fn cancel(&mut self, client: &Wallet, job: &Pubkey, destination: &Pubkey) -> TxResult {
        let ix = self.cancel_ix(job, destination);
        self.send(&[ix], &[&client.key])
    }

    pub fn claim_ix(&self, p: &ProviderActor, job: &Pubkey) -> Instruction {
        sdk_ix::job_claim(&self.market, &p.wallet.pubkey(), job)
    }

    /// Claims a slot, first leaving the job's posting slot (see
    /// [`Harness::leave_posting_slot`]).
    pub fn claim(&mut self, p: &ProviderActor, job: &Pubkey) -> TxResult {
        self.leave_posting_slot(job);
        let ix = self.claim_ix(p, job);
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn give_back_ix(&self, p: &ProviderActor, job: &Pubkey) -> Instruction {
        sdk_ix::job_give_back(&self.market, &p.wallet.pubkey(), job)
    }

    pub fn give_back(&mut self, p: &ProviderActor, job: &Pubkey) -> TxResult {
        let ix = self.give_back_ix(p, job);
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn commit_ix(&self, p: &ProviderActor, job: &Pubkey, commitment: [u8; 32]) -> Instruction {
        sdk_ix::job_commit(&self.market, &p.wallet.pubkey(), job, commitment)
    }

    /// Commits to `result` with salt `salt`.
    pub fn commit(
        &mut self,
        p: &ProviderActor,
        job: &Pubkey,
        result: [u8; 32],
        salt: [u8; 32],
    ) -> TxResult {
        let commitment = sdk_ix::commitment(&self.market, &p.wallet.pubkey(), job, &result, &salt);
        let ix = self.commit_ix(p, job, commitment);
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn reveal_ix(&self, p: &ProviderActor, job: &Pubkey, args: JobRevealArgs) -> Instruction {
        sdk_ix::job_reveal(&self.market, &p.wallet.pubkey(), job, args)
    }

    pub fn reveal(
        &mut self,
        p: &ProviderActor,
        job: &Pubkey,
        result: [u8; 32],
        salt: [u8; 32],
    ) -> TxResult {
        let args = JobRevealArgs {
            result_hash: result,
            salt,
            result_uri: format!("file:///results/{}", p.provider),
        };
        let ix = self.reveal_ix(p, job, args);
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn submit_ix(&self, p: &ProviderActor, job: &Pubkey, result: [u8; 32]) -> Instruction {
        let args = JobSubmitArgs {
            result_hash: result,
            result_uri: "file:///results/out.bin".into(),
        };
        let (j, m) = (self.job(job), self.market_account());
        sdk_ix::job_submit(job, &j, &m, &p.wallet.pubkey(), args)
    }

    pub fn submit(&mut self, p: &ProviderActor, job: &Pubkey, result: [u8; 32]) -> TxResult {
        let ix = self.submit_ix(p, job, result);
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn finalize_ix(&self, job: &Pubkey, cranker: &Pubkey) -> Instruction {
        sdk_ix::job_finalize(cranker, job, &self.job(job), &self.market_account())
    }

    pub fn expire_ix(&self, job: &Pubkey, cranker: &Pubkey) -> Instruction {
        sdk_ix::job_expire(cranker, job, &self.job(job), &self.market_account())
    }

    /// Finalizes `job`, cranked by the fee payer.
    pub fn finalize(&mut self, job: &Pubkey) -> TxResult {
        let ix = self.finalize_ix(job, &self.payer.pubkey());
        self.send(&[ix], &[])
    }

    /// Expires `job`, cranked by the fee payer.
    pub fn expire(&mut self, job: &Pubkey) -> TxResult {
        let ix = self.expire_ix(job, &self.payer.pubkey());
        self.send(&[ix], &[])
    }

    pub fn close_ix(&self, job: &Pubkey, destination: &Pubkey) -> Instruction {
        sdk_ix::job_close(job, &self.job(job), &self.market_account(), destination)
    }

    /// `job_close` by `client`, the refund to `destination`.
    pub fn close(&mut self, client: &Wallet, job: &Pubkey, destination: &Pubkey) -> TxResult {
        let ix = self.close_ix(job, destination);
        self.send(&[ix], &[&client.key])
    }
}
