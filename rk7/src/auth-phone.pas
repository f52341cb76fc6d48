{ ===========================================================================
  SMS PDS — функциональная клавиша «Карта по телефону» (без СМС).
  Только если заведение разрешило это в настройках (otp.phoneOnly) для этой кассы.
  =========================================================================== }
procedure ProcessOperation1001511(Parameter: integer);
var
  phone, answer: string;
  status: integer;
begin
  if not RKCheck.Valid then
  begin
    gui.ShowMessage('Откройте заказ, затем нажмите «Карта по телефону».');
    exit;
  end;
  phone := gui.InputBox('Карта по телефону', 'Телефон гостя (79161234567)', '', true);
  if phone = '' then exit;
  status := CallSmsPds('/auth', 'phone=' + UrlEncode(phone) + '&channel=none', answer);
  if (KvValue(answer, 'status') = 'ok') and (KvValue(answer, 'state') = 'verified') then
    ApplyCardToOrder(KvValue(answer, 'card'), KvValue(answer, 'holder'))
  else
    ShowSmsPdsError(answer);
end;
