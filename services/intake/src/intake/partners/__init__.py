"""Partner NGOs as the cross-NGO duplicate hint sees them.

- Sharing agreements, kept from admin's ``agreement.*`` events (consumer
  ``intake-agreements``): who may refer to whom, and until when.
- Partner hints: for each person with a name, a birth year and a citizenship, the
  consortium-keyed blind index (:func:`tirek.crypto.consortium_index`) of (name key, birth
  year, citizenship), equal in every NGO for the same person however the name was spelled.
  When a caseworker registers a person, intake asks which partner NGOs hold an equal index
  *and* may receive a referral from the caseworker's NGO under an agreement in force, and
  answers only those NGOs' names: "a partner NGO may already know this person — you can
  request a referral". No case id, name, count or date of theirs is revealed.

The lookup across tenants is one SECURITY DEFINER function (``partners_holding_hints``, see
the migration) that returns tenant ids only; the application role cannot read another NGO's
rows of ``partner_hints`` (FORCE row-level security), let alone its persons.
"""
