//! Mints and token accounts, through the real SPL Token program.

use solana_program_pack::Pack;
use spl_token_interface::instruction as token_ix;
use spl_token_interface::state::{Account as TokenAccount, Mint};

use super::*;

impl Harness {
    /// Creates a token-program account of `len` bytes at a new address, initialised by `init`.
    fn create_token_program_account(
        &mut self,
        len: usize,
        init: impl FnOnce(&Pubkey) -> Instruction,
    ) -> Pubkey {
        let account = self.keypair();
        let rent = self.svm.minimum_balance_for_rent_exemption(len);
        let ixs = [
            solana_system_interface::instruction::create_account(
                &self.payer.pubkey(),
                &account.pubkey(),
                rent,
                len as u64,
                &token_program(),
            ),
            init(&account.pubkey()),
        ];
        self.send(&ixs, &[&account])
            .expect("create token-program account");
        account.pubkey()
    }

    fn create_mint_with(&mut self, freeze: Option<Pubkey>) -> Pubkey {
        let authority = self.mint_authority.pubkey();
        self.create_token_program_account(Mint::LEN, |mint| {
            token_ix::initialize_mint2(
                &token_program(),
                mint,
                &authority,
                freeze.as_ref(),
                DECIMALS,
            )
            .unwrap()
        })
    }

    /// A mint without a freeze authority.
    pub fn create_mint(&mut self) -> Pubkey {
        self.create_mint_with(None)
    }

    /// A mint whose freeze authority is `h.freeze_authority`.
    pub fn create_freezable_mint(&mut self) -> Pubkey {
        let freeze = self.freeze_authority.pubkey();
        self.create_mint_with(Some(freeze))
    }

    /// A new (non-associated) token account of `mint` owned by `owner`.
    pub fn create_token_account_of(&mut self, mint: &Pubkey, owner: &Pubkey) -> Pubkey {
        self.create_token_program_account(TokenAccount::LEN, |account| {
            token_ix::initialize_account3(&token_program(), account, mint, owner).unwrap()
        })
    }

    /// A new (non-associated) token account of the payment mint owned by `owner`.
    pub fn create_token_account(&mut self, owner: &Pubkey) -> Pubkey {
        let mint = self.mint;
        self.create_token_account_of(&mint, owner)
    }

    /// Mints `amount` of `mint` to `account`.
    pub fn mint_to_of(&mut self, mint: &Pubkey, account: &Pubkey, amount: u64) {
        let ix = token_ix::mint_to(
            &token_program(),
            mint,
            account,
            &self.mint_authority.pubkey(),
            &[],
            amount,
        )
        .unwrap();
        let auth = self.mint_authority.insecure_clone();
        self.send(&[ix], &[&auth]).expect("mint_to");
        if *mint == self.mint {
            self.minted += amount;
        }
    }

    /// Mints `amount` of the payment mint to `account`.
    pub fn mint_to(&mut self, account: &Pubkey, amount: u64) {
        let mint = self.mint;
        self.mint_to_of(&mint, account, amount);
    }

    /// Freezes `account` with the mint's freeze authority.
    pub fn freeze(&mut self, account: &Pubkey) {
        let ix = token_ix::freeze_account(
            &token_program(),
            account,
            &self.mint,
            &self.freeze_authority.pubkey(),
            &[],
        )
        .unwrap();
        let auth = self.freeze_authority.insecure_clone();
        self.send(&[ix], &[&auth]).expect("freeze_account");
        assert!(self.token(account).is_frozen());
    }

    /// Closes the empty token account `account` of `owner` (rent to the owner).
    pub fn close_token_account(&mut self, account: &Pubkey, owner: &Keypair) {
        let ix = token_ix::close_account(
            &token_program(),
            account,
            &owner.pubkey(),
            &owner.pubkey(),
            &[],
        )
        .unwrap();
        self.send(&[ix], &[owner]).expect("close_account");
        assert!(!self.exists(account));
    }

    /// The token account at `account`.
    pub fn token(&self, account: &Pubkey) -> TokenAccount {
        let acc = self.svm.get_account(account).expect("token account");
        TokenAccount::unpack(&acc.data).unwrap()
    }

    /// Token balance of `account`; 0 when it does not exist (closed).
    pub fn balance(&self, account: &Pubkey) -> u64 {
        match self.svm.get_account(account) {
            Some(acc) if !acc.data.is_empty() => TokenAccount::unpack(&acc.data).unwrap().amount,
            _ => 0,
        }
    }

    /// Supply of `mint`.
    pub fn supply_of(&self, mint: &Pubkey) -> u64 {
        let acc = self.svm.get_account(mint).expect("mint");
        Mint::unpack(&acc.data).unwrap().supply
    }

    /// Supply of the payment mint.
    pub fn supply(&self) -> u64 {
        self.supply_of(&self.mint)
    }

    /// Every token account of the payment mint, with its state.
    pub fn token_accounts(&self) -> Vec<(Pubkey, TokenAccount)> {
        self.svm
            .get_program_accounts(&token_program())
            .into_iter()
            .filter(|(_, acc)| acc.data.len() == TokenAccount::LEN)
            .map(|(key, acc)| (key, TokenAccount::unpack(&acc.data).unwrap()))
            .filter(|(_, t)| t.mint == self.mint)
            .collect()
    }
}
